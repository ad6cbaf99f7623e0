package bench

import (
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/reconciler"
)

// agentMemPods is how many pods the measured agent runs.
const agentMemPods = 100

// BenchmarkAgentMemory100Pods measures an agent's live heap with 100 pods: one full
// agent on the fake runtime in this process (so no containerd memory is counted),
// next to one in-process server. The node is registered first and all 100 pods are
// assigned to it before the agent starts; the figure is the growth of the process's
// live heap (HeapInuse after GC) from then to all 100 Running, which is the agent's
// state plus the server's 100 status records.
func BenchmarkAgentMemory100Pods(b *testing.B) {
	for range b.N {
		repo := rcRepo(b, "mem", agentMemPods)
		c := startInproc(b, 1, repo.Bare, reconciler.DefaultConfig(), nil)
		st := c.servers[0].Store()
		cl := c.nodeClient(b, "mem-node")
		ctx := ctxFor(b, time.Minute)
		res := api.Resources{MilliCPU: 16000, MemoryBytes: 64 << 30}
		if _, err := cl.Register(ctx, api.NodeRegistration{Name: "mem-node", Address: "192.0.2.1", Capacity: res, Allocatable: res}); err != nil {
			b.Fatal(err)
		}
		pollUntil(b, time.Minute, 20*time.Millisecond, "100 pods assigned", func() bool {
			n := 0
			for _, p := range st.Snapshot().Pods() {
				if p.Node == "mem-node" {
					n++
				}
			}
			return n == agentMemPods
		})
		base := heapInuse()
		a := startFakeAgent(b, "mem-node", cl)
		pollUntil(b, time.Minute, 20*time.Millisecond, "100 pods running", func() bool {
			_, r, _ := countRunning(st.Snapshot().Pods())
			return r == agentMemPods
		})
		after := heapInuse()
		b.ReportMetric(float64(after-min(base, after))/(1<<20), "MB-heap/agent")
		a.stop()
		c.stop()
	}
}
