package bench

import (
	"testing"
	"time"

	"github.com/keelson/keelson/reconciler"
)

// nodeLossPods is the RC size of BenchmarkNodeLoss.
const nodeLossPods = 10

// BenchmarkNodeLoss runs one in-process server (real TCP, raft with fsync, the
// reconciler's default timeouts: NotReady 10 s and eviction 20 s after the last
// heartbeat) and two full agents on the fake runtime with default intervals. When 10
// pods run, the node with the most of them is cut off (no heartbeat, no report: a crash as the
// servers see it); reported is the time until all 10 run on the survivor (pods-lost says how many were replaced). Kubernetes
// with default settings takes about 5 min 50 s (40 s node-monitor grace + 5 min
// pod eviction timeout + restart).
func BenchmarkNodeLoss(b *testing.B) {
	for range b.N {
		b.StopTimer()
		repo := rcRepo(b, "lossy", nodeLossPods)
		c := startInproc(b, 1, repo.Bare, reconciler.DefaultConfig(), nil)
		st := c.servers[0].Store()
		agents := map[string]*fakeAgent{
			"node-a": startFakeAgent(b, "node-a", c.nodeClient(b, "node-a")),
			"node-b": startFakeAgent(b, "node-b", c.nodeClient(b, "node-b")),
		}
		pollUntil(b, time.Minute, 50*time.Millisecond, "all pods running, both nodes Ready", func() bool {
			snap := st.Snapshot()
			t, r, _ := countRunning(snap.Pods())
			return t == nodeLossPods && r == nodeLossPods && len(snap.Nodes()) == 2
		})
		// Lose the node running the most pods (the scheduler may pack them all on one).
		_, _, by := countRunning(st.Snapshot().Pods())
		lost, other := "node-a", "node-b"
		if by["node-b"] > by["node-a"] {
			lost, other = other, lost
		}
		b.ReportMetric(float64(by[lost]), "pods-lost")
		a := agents[lost]
		b.StartTimer()
		start := time.Now()
		a.cp.cut.Store(true)
		pollUntil(b, 2*time.Minute, 50*time.Millisecond, "all pods running on the surviving node", func() bool {
			_, _, by := countRunning(st.Snapshot().Pods())
			return by[other] == nodeLossPods
		})
		d := time.Since(start)
		b.StopTimer()
		b.ReportMetric(d.Seconds(), "s-to-replacement-running")
		a.stop()
		c.stop()
	}
}
