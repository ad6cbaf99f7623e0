// Package dev tests `make run` as a user meets it: the real `keelson dev` process
// brings manifests-example up, a `git push` to the repository it printed changes the
// cluster, the read-only CLI shows it, and stopping dev leaves nothing running.
package dev

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
	corev1 "k8s.io/api/core/v1"
)

func TestDevClusterServesPushes(t *testing.T) {
	bin, root := devPrereqs(t)
	dir := t.TempDir()
	httpAddr := freePortPair(t)
	dev := &devenv.Proc{Name: "dev", Bin: bin, LogPath: filepath.Join(dir, "dev.log"), Args: []string{
		"dev", "--dir", filepath.Join(dir, "cluster"), "--http-addr", httpAddr,
		"--manifests", filepath.Join(root, "manifests-example"),
	}}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			dev.Stop(90 * time.Second)
		}
		if t.Failed() {
			t.Logf("keelson dev output:\n%s", dev.Tail(8000))
		}
	})

	var nodeAddr string
	agentLine := regexp.MustCompile(`starting the agent dev-node at (\S+)`)
	testenv.Poll(t, 5*time.Minute, 250*time.Millisecond, "keelson dev to report the cluster running", func() bool {
		if !dev.Running() {
			t.Fatalf("keelson dev exited:\n%s", dev.Tail(8000))
		}
		out := dev.Tail(1 << 20)
		if m := agentLine.FindStringSubmatch(out); m != nil {
			nodeAddr = m[1]
		}
		return strings.Contains(out, "Keelson is running")
	})

	// The user exports what dev printed: the server URL, the cluster CA, the read token.
	exports := regexp.MustCompile(`export (KEELSON_SERVER=\S+) (KEELSON_CA_FILE=\S+) (KEELSON_TOKEN_FILE=\S+)`).FindStringSubmatch(dev.Tail(1 << 20))
	if exports == nil {
		t.Fatalf("keelson dev printed no export line for the read credential:\n%s", dev.Tail(8000))
	}
	cliEnv := append(os.Environ(), exports[1:]...)
	url := strings.TrimPrefix(exports[1], "KEELSON_SERVER=")
	if url != "https://"+httpAddr {
		t.Fatalf("dev printed KEELSON_SERVER=%s, want https://%s", url, httpAddr)
	}
	caFile, tokenFile := strings.TrimPrefix(exports[2], "KEELSON_CA_FILE="), strings.TrimPrefix(exports[3], "KEELSON_TOKEN_FILE=")
	tok, err := pki.ReadTokenFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := client.TLSFiles{CAFile: caFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	cli := client.New([]string{url}, tok.Secret, client.WithTLSConfig(tc))
	ctx := context.Background()
	frontendsReady := func(want int) func() bool {
		return func() bool {
			pods, _, err := cli.Pods(ctx, client.QueryOptions{Selector: "tier=frontend"})
			if err != nil {
				return false
			}
			ready := 0
			for _, p := range pods {
				if p.Desire == api.DesireRun && p.Status.Phase == corev1.PodRunning && p.Status.Ready {
					ready++
				}
			}
			return ready == want && len(pods) == want
		}
	}
	testenv.Eventually(t, time.Minute, "3 ready frontend pods", frontendsReady(3))
	testenv.EventuallyNoError(t, 30*time.Second, "the NodePort printed by dev to answer", func() error {
		body, err := harness.HTTPGet(ctx, "http://"+net.JoinHostPort(nodeAddr, "30080")+"/")
		if err == nil && !strings.Contains(body, "shop frontend") {
			return &unexpected{body}
		}
		return err
	})

	// The user's side: clone the printed repository, change a replica count, push.
	work := filepath.Join(dir, "work")
	if _, err := devenv.Git(dir, "clone", "-q", filepath.Join(dir, "cluster", "repo.git"), work); err != nil {
		t.Fatal(err)
	}
	fe := filepath.Join(work, "frontend.yaml")
	data, err := os.ReadFile(fe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fe, []byte(strings.Replace(string(data), "replicas: 3", "replicas: 4", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.Git(work, "commit", "-qam", "scale frontend to 4"); err != nil {
		t.Fatal(err)
	}
	sha, err := devenv.Git(work, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devenv.Git(work, "push", "-q", "origin", "HEAD:main"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "4 ready frontend pods after the push", frontendsReady(4))

	// The read-only CLI shows it.
	get := exec.Command(bin, "get", "pods", "-l", "tier=frontend")
	get.Env = cliEnv
	out, err := get.CombinedOutput()
	if err != nil {
		t.Fatalf("keelson get pods: %v: %s", err, out)
	}
	if n := strings.Count(string(out), "frontend-"); n != 4 {
		t.Errorf("keelson get pods lists %d frontend pods, want 4:\n%s", n, out)
	}
	status := exec.Command(bin, "status")
	status.Env = cliEnv
	out, err = status.CombinedOutput()
	if err != nil {
		t.Fatalf("keelson status: %v: %s", err, out)
	}
	if !strings.Contains(string(out), sha[:7]) || !strings.Contains(string(out), "scale frontend to 4") {
		t.Errorf("keelson status does not show the pushed commit %s:\n%s", sha[:7], out)
	}

	// Ctrl-C (SIGTERM here) stops everything dev started and keeps the repository.
	dev.Stop(90 * time.Second)
	stopped = true
	if dev.Running() {
		t.Fatal("keelson dev did not stop")
	}
	if out, err := exec.Command("nft", "list", "table", "ip", "keelson").CombinedOutput(); err == nil {
		t.Errorf("the proxy's nftables table is still there after dev stopped:\n%s", out)
	}
	if devenv.ContainerdAnswers("/run/keelson-dev/containerd.sock") {
		t.Error("dev's private containerd still answers after dev stopped")
	}
	if out, err := exec.Command("ip", "link", "show", "keelson0").CombinedOutput(); err == nil {
		t.Errorf("the pods' bridge is still there after dev stopped:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "cluster", "repo.git", "HEAD")); err != nil {
		t.Errorf("the repository did not survive dev stopping: %v", err)
	}
}

type unexpected struct{ body string }

func (u *unexpected) Error() string { return "unexpected answer: " + u.body }

// freePortPair returns 127.0.0.1:P where P and P+1 are both free: dev puts raft on the
// HTTP port + 1.
func freePortPair(t *testing.T) string {
	t.Helper()
	for range 50 {
		p, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		if err != nil {
			continue
		}
		l.Close()
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	t.Fatal("no two consecutive free ports")
	return ""
}

// devPrereqs skips (or fails under CI=true) without what keelson dev needs, refuses to
// disturb a dev cluster someone is running, and returns the keelson binary and the
// module root.
func devPrereqs(t *testing.T) (bin, root string) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "containerd", "ctr", "runc", "docker-registry", "git", "nft", "ip", "go")
	// keelson dev owns fixed names on this machine (its containerd under
	// /run/keelson-dev, bridge keelson0, nft table keelson): a dev cluster someone is
	// running must not be disturbed. CI machines never have one.
	if devenv.ContainerdAnswers("/run/keelson-dev/containerd.sock") {
		if testenv.InCI() {
			t.Fatal("a keelson dev cluster is already running on this CI machine")
		}
		t.Skip("skipping: a `keelson dev` cluster is running on this machine")
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin = os.Getenv("KEELSON_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "keelson")
		if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "keelson")).CombinedOutput(); err != nil {
			t.Fatalf("build keelson: %v: %s", err, out)
		}
	}
	return bin, root
}
