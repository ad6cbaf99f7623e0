package node_test

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/nodetest"

	"github.com/keelson/keelson/api"
)

// BenchmarkAssignToRunning measures the agent's own overhead from a pod appearing in
// the node's view to its Running+Ready report arriving at the control plane, on the
// fake runtime (so the runtime costs nothing). Reported: p50/p99 per pod.
func BenchmarkAssignToRunning(b *testing.B) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.0.0/16")
	cfg := benchConfig(b, rt, cp)
	_, stop := runAgentB(b, cfg)
	defer stop()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		uid := fmt.Sprintf("p%d", i)
		start := time.Now()
		cp.setPod(pod(uid, ctr("app")))
		testenv.Poll(b, 10*time.Second, 50*time.Microsecond, "pod "+uid+" running", func() bool {
			r, ok := cp.report(uid)
			return ok && running(r)
		})
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkManyPods runs 1000 pods on one agent and stops them again: the cost per pod
// of a full lifecycle (sandbox, container, status, graceful stop, Gone) on the fake.
func BenchmarkManyPods(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.0.0/16")
		_, stop := runAgentB(b, benchConfig(b, rt, cp))
		cp.mu.Lock()
		for j := 0; j < n; j++ {
			p := pod(fmt.Sprintf("p%d", j), ctr("app"))
			cp.pods[p.UID] = p
		}
		cp.bumpLocked()
		cp.mu.Unlock()
		waitCount(b, cp, n, running)
		cp.mu.Lock()
		clear(cp.pods)
		cp.bumpLocked()
		cp.mu.Unlock()
		waitCount(b, cp, n, func(r api.PodStatusReport) bool { return r.Gone })
		stop()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/pod-lifecycle")
}

func waitCount(b *testing.B, cp *fakeCP, n int, cond func(api.PodStatusReport) bool) {
	testenv.PollDetail(b, time.Minute, time.Millisecond, "the pods' state", func() (bool, string) {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		c := 0
		for _, r := range cp.latest {
			if cond(r) {
				c++
			}
		}
		return c >= n, fmt.Sprintf("only %d of %d pods reached it", c, n)
	})
}

func benchConfig(b *testing.B, rt node.Runtime, cp node.ControlPlane) node.Config {
	return node.Config{
		Name: "n1", Address: "192.0.2.1", DataDir: b.TempDir(),
		Capacity:            api.Resources{MilliCPU: 4000, MemoryBytes: 8 << 30},
		StatusBatchInterval: time.Millisecond, SyncInterval: time.Second, WatchWait: time.Second,
		Runtime: rt, ControlPlane: cp, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func runAgentB(b *testing.B, cfg node.Config) (*node.Agent, func()) {
	b.Helper()
	a, err := node.NewAgent(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, func() { cancel(); <-done }
}
