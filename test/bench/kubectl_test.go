package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/server/kubeapi"
)

const (
	kubectlPods = 100_000
	kubectlRuns = 9
)

// BenchmarkKubectlGetPods100k is `kubectl get pods -A` (the real binary: discovery,
// then the list in pages of 500 as server-side Tables) against a Kubernetes-shaped API
// on real TCP whose raft store holds 100,000 running pod records on 1,000 nodes. The
// API is mounted alone (kubeapi on a one-voter in-memory raftstore) so the figure is
// the read path, not a reconciler settling; it is served as the server serves it:
// HTTPS with a certificate from a cluster CA, behind the read token, which kubectl
// sends from its kubeconfig (CA and token, as `keelson kubeconfig` writes it).
// Figures: median and p99 of several runs.
func BenchmarkKubectlGetPods100k(b *testing.B) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		testenv.Missing(b, "kubectl is not installed")
	}
	st := podStore(b, kubectlPods, 1000)
	dir := b.TempDir()
	tlsCfg, caFile, token, tokens := benchCredentials(b, dir)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: readAuth(tokens, kubeHandler(st))}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	kcfg, err := kubeapi.Kubeconfig(kubeapi.KubeconfigOptions{Server: "https://" + ln.Addr().String(), Token: token, CAFile: caFile})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kcfg, 0o600); err != nil {
		b.Fatal(err)
	}
	// --cache-dir: a fresh discovery cache, as for a first `kubectl get` on a machine.
	cacheDir := b.TempDir()
	run := func() (time.Duration, int) {
		var out bytes.Buffer
		cmd := exec.Command("kubectl", "--kubeconfig", path, "--cache-dir", cacheDir, "get", "pods", "-A")
		cmd.Stdout = &out
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("kubectl get pods -A: %v: %s", err, stderr.Bytes())
		}
		return time.Since(start), bytes.Count(out.Bytes(), []byte("\n"))
	}
	if _, lines := run(); lines != kubectlPods+1 { // warm-up: discovery cached, as on a user's machine
		b.Fatalf("kubectl printed %d lines, want %d", lines, kubectlPods+1)
	}
	b.ResetTimer()
	var ds []time.Duration
	for range b.N {
		for range kubectlRuns {
			d, _ := run()
			ds = append(ds, d)
		}
	}
	b.StopTimer()
	b.ReportMetric(percentile(ds, 0.5), "p50-ms")
	b.ReportMetric(percentile(ds, 0.99), "p99-ms")
	b.ReportMetric(float64(len(ds)), "runs")
}

// podStore is a one-voter in-memory raft store with n running pods spread on nodes.
func podStore(b *testing.B, n, nodes int) *raftstore.Store {
	b.Helper()
	addr, trans := raft.NewInmemTransport("")
	cfg := raftstore.Config{ID: "s1", Bootstrap: true, InMemory: true, Transport: trans,
		Peers: []raftstore.Peer{{ID: "s1", Addr: string(addr)}}}
	cfg.UseFastTimeouts()
	st, err := raftstore.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	pollUntil(b, 30*time.Second, 20*time.Millisecond, "leader", st.IsLeader)
	ctx := context.Background()
	now := time.Now()
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}}
	const batch = 5000
	for start := 0; start < n; start += batch {
		var ch api.Changes
		for i := start; i < min(start+batch, n); i++ {
			rc := fmt.Sprintf("app-%02d", i%100)
			ch.UpsertPods = append(ch.UpsertPods, api.PodRecord{
				UID: fmt.Sprintf("uid-%06d", i), Namespace: "default", Name: fmt.Sprintf("%s-%06d", rc, i),
				Owner: "ReplicationController/default/" + rc, Labels: map[string]string{"app": rc},
				Spec: spec, SpecHash: "h", Node: fmt.Sprintf("node-%04d", i%nodes), Desire: api.DesireRun, CreatedAt: now,
			})
		}
		if _, err := st.Apply(ctx, raftstore.ApplyChangesCmd(ch)); err != nil {
			b.Fatal(err)
		}
	}
	var reports []api.PodStatusReport
	for i := range n {
		reports = append(reports, api.PodStatusReport{UID: fmt.Sprintf("uid-%06d", i), Node: fmt.Sprintf("node-%04d", i%nodes),
			Status: api.PodStatus{Phase: corev1.PodRunning, Ready: true, PodIP: fmt.Sprintf("10.%d.%d.%d", 1+i/65536, i/256%256, i%256),
				StartedAt: now, Containers: []api.ContainerStatus{{Name: "app", State: api.ContainerRunning, Ready: true, StartedAt: now}}}})
		if len(reports) == batch || i == n-1 {
			if _, err := st.Apply(ctx, raftstore.ReportPodStatusCmd(reports)); err != nil {
				b.Fatal(err)
			}
			reports = nil
		}
	}
	if got := len(st.Snapshot().Pods()); got != n {
		b.Fatalf("store holds %d pods, want %d", got, n)
	}
	return st
}

// benchCredentials makes a cluster CA, a server certificate for 127.0.0.1 and a read
// token file in dir, with pki as a bootstrap server does: the listener's TLS
// configuration, the CA file, the token and the accepted-token file.
func benchCredentials(b *testing.B, dir string) (*tls.Config, string, string, *pki.TokenFile) {
	b.Helper()
	ca, err := pki.NewCA("keelson-bench")
	if err != nil {
		b.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueKeyPair(pki.RoleServer, "s1", []string{"127.0.0.1", "localhost"})
	if err != nil {
		b.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		b.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	tok := pki.NewToken(ca.Hash())
	tokFile := filepath.Join(dir, "read-tokens")
	if err := pki.WriteSecret(tokFile, []byte(tok.String()+"\n")); err != nil {
		b.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return cfg, caFile, tok.Secret, pki.NewTokenFile(tokFile)
}

// readAuth admits only requests bearing a token of tokens, as the server's read
// routes do for a client without a certificate.
func readAuth(tokens *pki.TokenFile, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !tokens.Accepts(tok) {
			http.Error(w, "read token required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// kubeHandler mounts the Kubernetes-shaped API on st as the server does.
func kubeHandler(st *raftstore.Store) http.Handler {
	h := kubeapi.New(kubeapi.Options{Store: benchKubeStore{st}})
	mux := http.NewServeMux()
	for _, p := range kubeapi.Patterns {
		mux.Handle(p, h)
	}
	return mux
}

type benchKubeStore struct{ st *raftstore.Store }

func (k benchKubeStore) Snapshot() kubeapi.State { return k.st.Snapshot() }
func (k benchKubeStore) WaitIndex(ctx context.Context, after uint64) (uint64, error) {
	return k.st.WaitIndex(ctx, after)
}
