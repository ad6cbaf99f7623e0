package kubectl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"
	"sigs.k8s.io/yaml"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
)

// Host names and ranges of this suite, distinct from every other suite's, so it can
// run next to them: pod and service CIDRs, NodePort, bridge, nft table, containerd
// namespace, node name.
const (
	clusterCIDR = "10.236.0.0/16"
	serviceCIDR = "10.86.0.0/16"
	nodePort    = 30936
	nodeName    = "kctl-a"
)

func agentSpec(containerd string) harness.RuntimeSpec {
	return harness.RuntimeSpec{Containerd: containerd, Bridge: "kls-kctl", ProxyTable: "kls_kctl", Namespace: "kctl-" + nodeName}
}

// kcluster is the suite's cluster: 3 servers and one agent, following a bare Git
// repository. The API is HTTPS with the cluster CA and the read API takes the read
// token: kubectl and the client-go informer connect with the CA and the read token
// from `keelson kubeconfig`, exactly as a user's tools do.
type kcluster struct {
	t          *testing.T
	env        *harness.Env
	dir        string
	procs      *harness.Cluster
	c          *client.Client // Keelson's own /v1 API: the reference the kubectl output is checked against
	repo       *devenv.Repo
	spec       harness.RuntimeSpec
	kubeconfig string   // kubectl's: server 1
	kubeconfs  []string // one per server, from `keelson kubeconfig`: each server answers alike
	readToken  string   // the bootstrap server's read token, which every kubeconfig must carry
}

func newCluster(t *testing.T) *kcluster {
	t.Helper()
	env := shared.Require(t)
	dir, err := os.MkdirTemp("", "keelson-kctl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = devenv.UnmountUnder(dir); _ = os.RemoveAll(dir) })
	addr, err := harness.NodeAddress()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := devenv.NewRepo(filepath.Join(dir, "git"), "")
	if err != nil {
		t.Fatal(err)
	}
	k := &kcluster{t: t, env: env, dir: dir, repo: repo, spec: agentSpec(env.Containerd)}
	opts := harness.ClusterOptions{
		Bin: env.Bin, Dir: filepath.Join(dir, "cluster"), Servers: 3, RepoURL: repo.Bare,
		ServerArgs: []string{"--poll-interval", "500ms",
			"--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR},
		Agents: []harness.AgentOptions{{Name: nodeName, ListenHost: addr, Args: []string{
			"--address", addr, "--containerd", env.Containerd, "--containerd-namespace", k.spec.Namespace,
			"--bridge", k.spec.Bridge, "--proxy-table", k.spec.ProxyTable, "--cluster-cidr", clusterCIDR,
			"--host-gw=false", "--registry-insecure", env.Registry, "--dns-address", harness.DNSAddress(27, 0),
		}}},
	}
	k.spec.StateDir = filepath.Join(opts.Dir, nodeName, "runtime")
	procs, err := harness.StartCluster(opts)
	if err != nil {
		t.Fatal(err)
	}
	k.procs = procs
	if k.c, err = procs.Client(); err != nil {
		t.Fatal(err)
	}
	if k.readToken, err = procs.ReadToken(); err != nil {
		t.Fatal(err)
	}
	unregister := shared.OnInterrupt(k.teardown)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs (tails):\n%s", procs.Logs(6000))
		}
		k.teardown()
		unregister()
		if left := k.spec.Leftovers(context.Background()); left != "" {
			t.Errorf("left behind by the agent: %s", left)
		}
	})
	// kubectl finds the cluster the way a user would: a kubeconfig from `keelson
	// kubeconfig`, given the CA and the read token file as the CLI is (CLIEnv).
	caPEM, err := os.ReadFile(procs.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range procs.ServerURLs() {
		cmd := exec.Command(env.Bin, "kubeconfig", "--server", u)
		cmd.Env = append(os.Environ(), procs.CLIEnv()...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("keelson kubeconfig: %v\n%s", err, errb.Bytes())
		}
		// It must hold exactly this server, the cluster CA and the read token.
		kc, err := parseKubeconfig(out)
		if err != nil {
			t.Fatalf("keelson kubeconfig --server %s: %v\n%s", u, err, out)
		}
		if kc.server != u || !bytes.Equal(kc.caData, caPEM) || kc.token != k.readToken {
			t.Fatalf("keelson kubeconfig --server %s: server %q, CA of the cluster %v, read token %v:\n%s",
				u, kc.server, bytes.Equal(kc.caData, caPEM), kc.token == k.readToken, out)
		}
		p := filepath.Join(dir, fmt.Sprintf("kubeconfig-s%d", i+1))
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Fatal(err)
		}
		k.kubeconfs = append(k.kubeconfs, p)
	}
	k.kubeconfig = k.kubeconfs[0]
	k.eventually(time.Minute, "node Ready", func(ctx context.Context) error {
		nodes, _, err := k.c.Nodes(ctx, client.QueryOptions{})
		if err != nil {
			return err
		}
		if len(nodes) != 1 || nodes[0].Status != api.NodeReady {
			return fmt.Errorf("nodes: %+v", nodes)
		}
		return nil
	})
	return k
}

func (k *kcluster) teardown() {
	for _, p := range k.procs.Agents {
		p.Stop(20 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := k.spec.RemoveAll(ctx); err != nil {
		k.t.Logf("clean agent: %v", err)
	}
	for _, p := range k.procs.Servers {
		p.Stop(10 * time.Second)
	}
}

// writeManifests puts the example frontend (with replicas and image tag) in the work
// tree, pointed at the suite's registry and NodePort.
func (k *kcluster) writeManifests(replicas int, tag string) {
	k.t.Helper()
	b, err := os.ReadFile(filepath.Join(k.env.Root, "manifests-example", "frontend.yaml"))
	if err != nil {
		k.t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "127.0.0.1:5000/keelson/web:v1", k.env.Registry+"/keelson/web:"+tag)
	s = strings.ReplaceAll(s, "nodePort: 30080", fmt.Sprintf("nodePort: %d", nodePort))
	s = strings.Replace(s, "replicas: 3", fmt.Sprintf("replicas: %d", replicas), 1)
	if err := k.repo.WriteFile("frontend.yaml", s); err != nil {
		k.t.Fatal(err)
	}
}

func (k *kcluster) push(msg string) string {
	k.t.Helper()
	sha, err := k.repo.CommitAndPush(msg)
	if err != nil {
		k.t.Fatal(err)
	}
	return sha
}

func (k *kcluster) eventually(timeout time.Duration, what string, cond func(ctx context.Context) error) {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		<-tick.C
	}
}

// converged waits until commit is applied and its frontend pods (n, with tag) all run
// and are ready; it returns them.
func (k *kcluster) converged(commit string, n int, tag string) []api.PodRecord {
	k.t.Helper()
	var pods []api.PodRecord
	k.eventually(3*time.Minute, fmt.Sprintf("%d pods of %s ready", n, commit[:7]), func(ctx context.Context) error {
		st, err := k.c.Status(ctx)
		if err != nil {
			return err
		}
		if st.Applied == nil || st.Applied.Commit != commit {
			return fmt.Errorf("applied %+v", st.Applied)
		}
		all, _, err := k.c.Pods(ctx, client.QueryOptions{})
		if err != nil {
			return err
		}
		pods = nil
		for _, p := range all {
			if p.Desire != api.DesireRun || p.Status.Phase != corev1.PodRunning || !p.Status.Ready ||
				!strings.HasSuffix(p.Spec.Containers[0].Image, ":"+tag) {
				return fmt.Errorf("pod %s: %s %s ready=%v %s", p.Name, p.Desire, p.Status.Phase, p.Status.Ready, p.Spec.Containers[0].Image)
			}
			pods = append(pods, p)
		}
		if len(pods) != n {
			return fmt.Errorf("%d pods, want %d", len(pods), n)
		}
		return nil
	})
	return pods
}

// kubectl runs the real kubectl against server 1; it returns stdout, stderr and the
// error (an *exec.ExitError for a non-zero exit).
func (k *kcluster) kubectl(ctx context.Context, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// mustKubectl is kubectl that must succeed.
func (k *kcluster) mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, errOut, err := k.kubectl(ctx, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// kubeconf is what a kubeconfig from `keelson kubeconfig` says about its current
// context: the server URL, the CA (certificate-authority-data) and the bearer token.
type kubeconf struct {
	server string
	caData []byte
	token  string
}

// parseKubeconfig reads the current context of a kubeconfig (client-go's v1 types).
func parseKubeconfig(b []byte) (kubeconf, error) {
	var cfg clientcmdv1.Config
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return kubeconf{}, err
	}
	var ctx *clientcmdv1.Context
	for i := range cfg.Contexts {
		if cfg.Contexts[i].Name == cfg.CurrentContext {
			ctx = &cfg.Contexts[i].Context
		}
	}
	if ctx == nil {
		return kubeconf{}, fmt.Errorf("no context %q", cfg.CurrentContext)
	}
	var kc kubeconf
	found := 0
	for _, c := range cfg.Clusters {
		if c.Name == ctx.Cluster {
			kc.server, kc.caData = c.Cluster.Server, c.Cluster.CertificateAuthorityData
			found++
		}
	}
	for _, u := range cfg.AuthInfos {
		if u.Name == ctx.AuthInfo {
			kc.token = u.AuthInfo.Token
			found++
		}
	}
	if found != 2 {
		return kubeconf{}, fmt.Errorf("context %q: cluster %q or user %q missing", cfg.CurrentContext, ctx.Cluster, ctx.AuthInfo)
	}
	return kc, nil
}

// restConfig is client-go's configuration from server i's kubeconfig: its URL, the
// cluster CA and the read token, as a client-go program loading it would have.
func (k *kcluster) restConfig(i int) (*rest.Config, error) {
	b, err := os.ReadFile(k.kubeconfs[i])
	if err != nil {
		return nil, err
	}
	kc, err := parseKubeconfig(b)
	if err != nil {
		return nil, err
	}
	return &rest.Config{Host: kc.server, BearerToken: kc.token, TLSClientConfig: rest.TLSClientConfig{CAData: kc.caData}}, nil
}
