package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
	corev1 "k8s.io/api/core/v1"
)

// pushRC is the desired state BenchmarkPushToRunning rolls: 2 replicas of the example
// web image whose env value changes with every push, so every push replaces both pods.
const pushRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: 2
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: IMAGE
        args: ["-listen", ":8080"]
        env:
        - name: BENCH_PUSH
          value: "PUSH"
        resources:
          requests:
            cpu: 50m
            memory: 32Mi
`

// BenchmarkPushToRunning measures what a user feels on deploy: from `git push`
// returning to every pod of the changed RC Running (on the new commit) on a cluster
// of 3 `keelson server` processes (default Git detection: fsnotify on the local
// repository) and 2 `keelson agent` processes on a private containerd with CNI.
// Each of 30 pushes changes an env value, so both replicas are rolled one by one.
// Reported: p50/p99 in ms, and the VmRSS of one server and one agent afterwards.
// Needs root (containerd, network namespaces).
func BenchmarkPushToRunning(b *testing.B) {
	testenv.RequireRoot(b)
	testenv.RequireBinary(b, "containerd", "runc", "docker-registry", "git")
	testenv.RequireFile(b, "/usr/lib/cni/bridge")
	pushes := envInt("KEELSON_BENCH_PUSHES", 30)
	ctx := ctxFor(b, 30*time.Minute)
	b.StopTimer()
	env, err := harness.StartEnv(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	if bin := os.Getenv("KEELSON_BIN"); bin == "" {
		b.Logf("built keelson into %s", env.Bin)
	}
	addr, err := harness.NodeAddress()
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		lat, srvRSS, agentRSS := pushRounds(b, env, addr, pushes)
		b.ReportMetric(percentile(lat, 0.5), "p50-ms")
		b.ReportMetric(percentile(lat, 0.99), "p99-ms")
		b.ReportMetric(float64(len(lat)), "pushes")
		b.ReportMetric(float64(srvRSS)/(1<<20), "MB-rss/server")
		b.ReportMetric(float64(agentRSS)/(1<<20), "MB-rss/agent-2pods")
	}
}

func pushRounds(b *testing.B, env *harness.Env, addr string, pushes int) (lat []time.Duration, srvRSS, agentRSS uint64) {
	b.Helper()
	dir := b.TempDir()
	seed := filepath.Join(dir, "seed")
	if err := os.MkdirAll(seed, 0o755); err != nil {
		b.Fatal(err)
	}
	rc := func(i int) string {
		return strings.NewReplacer("IMAGE", env.WebV1, "PUSH", fmt.Sprint(i)).Replace(pushRC)
	}
	if err := os.WriteFile(filepath.Join(seed, "web.yaml"), []byte(rc(0)), 0o644); err != nil {
		b.Fatal(err)
	}
	repo, err := devenv.NewRepo(filepath.Join(dir, "git"), seed)
	if err != nil {
		b.Fatal(err)
	}
	opts := harness.ClusterOptions{Bin: env.Bin, Dir: filepath.Join(dir, "cluster"), Servers: 3, RepoURL: repo.Bare}
	specs := map[string]harness.RuntimeSpec{}
	for i, name := range []string{"bench-a", "bench-b"} {
		s := harness.RuntimeSpec{Containerd: env.Containerd, Namespace: "bench-" + name,
			StateDir: filepath.Join(opts.Dir, name, "runtime"), Bridge: "kb-" + strings.TrimPrefix(name, "bench-"),
			ProxyTable: "kb_" + strings.TrimPrefix(name, "bench-")}
		specs[name] = s
		opts.Agents = append(opts.Agents, harness.AgentOptions{Name: name, ListenHost: addr, Args: []string{
			"--address", addr, "--containerd", env.Containerd, "--containerd-namespace", s.Namespace,
			"--bridge", s.Bridge, "--proxy-table", s.ProxyTable, "--host-gw=false", "--registry-insecure", env.Registry,
			"--dns-address", harness.DNSAddress(30, i),
		}})
	}
	c, err := harness.StartCluster(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if b.Failed() {
			b.Logf("process logs:\n%s", c.Logs(4000))
		}
		for _, p := range c.Agents {
			p.Stop(20 * time.Second)
		}
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for name, s := range specs {
			if err := s.RemoveAll(cctx); err != nil {
				b.Logf("clean agent %s: %v", name, err)
			}
		}
		c.Stop()
	}()
	cl := c.MustClient()
	head, err := devenv.Git(repo.Work, "rev-parse", "HEAD")
	if err != nil {
		b.Fatal(err)
	}
	waitRolled(b, cl, head, 3*time.Minute)
	for i := 1; i <= pushes; i++ {
		if err := repo.WriteFile("web.yaml", rc(i)); err != nil {
			b.Fatal(err)
		}
		sha, err := repo.Commit(fmt.Sprintf("push %d", i))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := repo.Push(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		waitRolled(b, cl, sha, time.Minute)
		lat = append(lat, time.Since(start))
		b.StopTimer()
	}
	srvRSS, _ = vmRSS(c.Servers[0].Pid())
	agentRSS, _ = vmRSS(c.Agents[0].Pid())
	return lat, srvRSS, agentRSS
}

// waitRolled waits until the RC's pods to run are exactly its 2 replicas, all made
// from commit and Running.
func waitRolled(b *testing.B, cl *client.Client, commit string, timeout time.Duration) {
	b.Helper()
	var last []api.PodRecord
	testenv.PollDetail(b, timeout, 20*time.Millisecond, "commit "+commit+" rolled out", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pods, _, err := cl.Pods(ctx, client.QueryOptions{})
		cancel()
		if err == nil {
			last = pods
			n, ok := 0, true
			for _, p := range pods {
				if p.Owner != "ReplicationController/default/web" || p.Desire != api.DesireRun {
					continue
				}
				n++
				ok = ok && p.Commit == commit && p.Status.Phase == corev1.PodRunning
			}
			if ok && n == 2 {
				return true, ""
			}
		}
		return false, describe(last)
	})
}
