package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/reconciler"
)

// Scale of BenchmarkScheduleAtScale; KEELSON_BENCH_SCALE_NODES/_RCS shrink it for a
// quick look (the documented figures use the defaults).
const (
	scaleNodes    = 5000
	scaleRCs      = 50
	scaleReplicas = 2000
)

// BenchmarkScheduleAtScale pushes one commit of 50 RCs × 2,000 replicas (100,000
// pods) to a cluster of 3 in-process servers (real TCP, raft-boltdb with fsync, real
// Git source) with 5,000 simulated nodes (see simNodes), and reports, from `git push`
// returning: the time until every pod is assigned (committed and visible on a
// follower), the resulting pods/s, and the time until every pod is reported Running.
// It also reports the size and latency of one node's NodeView at that scale, and the
// heap per server replica (see memory below). If all pods are not Running within
// KEELSON_BENCH_SCALE_DEADLINE_S (default 300) it reports how far it got instead.
// Run with -benchtime=1x.
func BenchmarkScheduleAtScale(b *testing.B) {
	nodes, rcs := envInt("KEELSON_BENCH_SCALE_NODES", scaleNodes), envInt("KEELSON_BENCH_SCALE_RCS", scaleRCs)
	pods := rcs * scaleReplicas
	for range b.N {
		m := scaleOnce(b, nodes, rcs)
		if m.assigned > 0 {
			b.ReportMetric(float64(pods)/m.assigned.Seconds(), "pods/s")
			b.ReportMetric(m.assigned.Seconds(), "s-to-all-assigned")
		} else {
			b.ReportMetric(float64(m.last.assigned)/m.elapsed.Seconds(), "pods/s")
			b.ReportMetric(float64(m.last.assigned), "assigned-at-deadline")
		}
		if m.running > 0 {
			b.ReportMetric(m.running.Seconds(), "s-to-all-running")
		} else {
			b.ReportMetric(float64(m.last.running), "running-at-deadline")
			b.ReportMetric(m.elapsed.Seconds(), "s-deadline")
		}
		b.ReportMetric(m.revision.Seconds(), "s-push-to-revision")
		b.ReportMetric(float64(m.viewBytes)/1024, "KB/nodeview")
		b.ReportMetric(float64(m.viewTime.Microseconds())/1000, "ms/nodeview")
		b.ReportMetric(float64(m.heapPerServer)/(1<<20), "MB-heap/server")
		b.ReportMetric(float64(nodes), "nodes")
		b.ReportMetric(float64(pods), "pods")
	}
}

type scaleResult struct {
	revision, assigned, running time.Duration
	viewBytes                   int
	viewTime                    time.Duration
	heapPerServer               uint64
	last                        runCounts     // the latest scan
	elapsed                     time.Duration // push to all Running, or to the deadline
}

func scaleOnce(b *testing.B, nodes, rcs int) scaleResult {
	b.Helper()
	b.StopTimer()
	dir := b.TempDir()
	seed := filepath.Join(dir, "seed")
	if err := os.MkdirAll(seed, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, "README.md"), []byte("scale benchmark\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	repo, err := devenv.NewRepo(dir, seed)
	if err != nil {
		b.Fatal(err)
	}
	baseHeap := heapInuse()

	rcfg := reconciler.DefaultConfig()
	rcfg.ClusterCIDR, rcfg.NodeCIDRMaskSize = "10.0.0.0/8", 24 // 65,536 node subnets
	c := startInproc(b, 3, repo.Bare, rcfg, nil)
	sim := registerNodes(b, c.nodeClient, nodes, 64)
	sim.heartbeat(4*time.Second, 16)
	defer sim.stopHeartbeats()

	fol := c.servers[c.follower()].Store()
	pollUntil(b, 5*time.Minute, 200*time.Millisecond, "all nodes Ready with a pod CIDR", func() bool {
		ns := fol.Snapshot().Nodes()
		ready := 0
		for _, n := range ns {
			if n.PodCIDR != "" && n.Status == api.NodeReady {
				ready++
			}
		}
		return ready == nodes
	})

	var (
		mu  sync.Mutex
		res scaleResult
		t0  time.Time
	)
	want := rcs * scaleReplicas
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		sim.runPods(ctx, fol, 32, time.Second, func(rc runCounts) {
			mu.Lock()
			defer mu.Unlock()
			if t0.IsZero() {
				return
			}
			res.last = rc
			if res.revision == 0 && rc.total > 0 {
				res.revision = time.Since(t0)
			}
			if res.assigned == 0 && rc.total == want && rc.assigned == want {
				res.assigned = time.Since(t0)
			}
			if res.running == 0 && rc.total == want && rc.running == want {
				res.running = time.Since(t0)
			}
		})
	}()

	for i := range rcs {
		if err := repo.WriteFile(fmt.Sprintf("rc-%02d.yaml", i), scaleRC(i, scaleReplicas)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := repo.Commit("100k pods"); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	if err := repo.Push(); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	t0 = time.Now()
	mu.Unlock()
	// On a slow machine the run ends at the deadline and reports how far it got,
	// rather than failing without a figure.
	deadline := time.Now().Add(time.Duration(envInt("KEELSON_BENCH_SCALE_DEADLINE_S", 300)) * time.Second)
	next := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		mu.Lock()
		done, last := res.running > 0, res.last
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		if time.Now().After(next) {
			fmt.Fprintf(os.Stderr, "scale: %s after push: %d pods, %d assigned, %d running\n",
				time.Since(t0).Round(time.Second), last.total, last.assigned, last.running)
			next = next.Add(10 * time.Second)
		}
		<-tick.C
	}
	mu.Lock()
	res.elapsed = time.Since(t0)
	mu.Unlock()
	b.StopTimer()
	cancel()
	<-simDone

	// One agent's view at this scale: what every node would fetch on each change.
	vctx, vcancel := context.WithTimeout(context.Background(), time.Minute)
	start := time.Now()
	v, err := sim.cl[sim.names[0]].WatchNode(vctx, sim.names[0], 0, 0)
	res.viewTime = time.Since(start)
	vcancel()
	if err != nil {
		b.Fatalf("node view: %v", err)
	}
	res.viewBytes = jsonSize(v)
	sim.stopHeartbeats()
	if n := sim.reportErrs.Load(); n > 0 {
		b.Logf("%d status batches failed and were retried", n)
	}
	// Three replicas of the same state share this process's heap: the per-server
	// figure is the growth of the live heap divided by three (the simulator's state
	// is garbage by now; the client's idle connections are a rounding error).
	res.heapPerServer = (heapInuse() - min(baseHeap, heapInuse())) / 3
	return res
}

// scaleRC is one RC manifest with n replicas of a small pod.
func scaleRC(i, n int) string {
	name := fmt.Sprintf("app-%02d", i)
	return strings.NewReplacer("NAME", name, "REPLICAS", fmt.Sprint(n)).Replace(`apiVersion: v1
kind: ReplicationController
metadata:
  name: NAME
spec:
  replicas: REPLICAS
  selector:
    app: NAME
  template:
    metadata:
      labels:
        app: NAME
    spec:
      containers:
      - name: app
        image: registry.invalid/app:1
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
`)
}
