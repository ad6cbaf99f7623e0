package reconciler

import (
	"fmt"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// BenchmarkPlan100kPods5kNodes measures one Plan that creates and places 100,000 pods
// (100 RCs × 1,000 replicas) on 5,000 nodes in a single batch.
func BenchmarkPlan100kPods5kNodes(b *testing.B) {
	const nodes, rcs, replicas = 5000, 100, 1000
	cfg := DefaultConfig()
	cfg.MaxPodsPerBatch = 0
	cfg.ClusterCIDR = "10.0.0.0/8"
	uid := 0
	cfg.NewUID = func() string { uid++; return fmt.Sprintf("uid-%08d", uid) }
	sfx := 0
	cfg.NameSuffix = func() string { sfx++; return fmt.Sprintf("%05d", sfx%100000) }

	in := Observed{Now: t0, Heartbeats: map[string]time.Time{}}
	for i := range nodes {
		n := mkNode(fmt.Sprintf("n%05d", i), 64000, nil)
		n.PodCIDR = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
		in.Nodes = append(in.Nodes, n)
		in.Heartbeats[n.Name] = t0
	}
	var m api.Manifests
	for i := range rcs {
		l := map[string]string{"app": fmt.Sprintf("app%03d", i)}
		m.ReplicationControllers = append(m.ReplicationControllers, mkRC(fmt.Sprintf("app%03d", i), replicas, l, "img:1", "100m"))
	}
	m.Services = []corev1.Service{mkSvc("app000", map[string]string{"app": "app000"}, intstrName("http"))}
	in.Desired = rev("c1", m)

	b.ReportAllocs()
	b.ResetTimer()
	var placed int
	for b.Loop() {
		r := Plan(cfg, in)
		placed = 0
		for i := range r.Changes.UpsertPods {
			if r.Changes.UpsertPods[i].Node != "" {
				placed++
			}
		}
	}
	if placed != rcs*replicas {
		b.Fatalf("placed %d pods, want %d", placed, rcs*replicas)
	}
	b.ReportMetric(float64(placed)*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}

// BenchmarkPlanSteady measures the call the leader makes on every store change and
// timer tick once the cluster has converged: 1,000 RCs (5 replicas each, so 5,000
// running pods) and 100 bare pods on 200 nodes, nothing to do. It is dominated by
// reading the desired side (templates hashed, owners indexed) and the live pods.
func BenchmarkPlanSteady(b *testing.B) {
	const nodes, rcs, replicas, bare = 200, 1000, 5, 100
	cfg := DefaultConfig()
	cfg.MaxPodsPerBatch = 0
	uid := 0
	cfg.NewUID = func() string { uid++; return fmt.Sprintf("uid-%08d", uid) }
	sfx := 0
	cfg.NameSuffix = func() string { sfx++; return fmt.Sprintf("%05d", sfx%100000) }
	in := Observed{Now: t0, Heartbeats: map[string]time.Time{}}
	for i := range nodes {
		n := mkNode(fmt.Sprintf("n%05d", i), 64000, nil)
		in.Nodes = append(in.Nodes, n)
		in.Heartbeats[n.Name] = t0
	}
	var m api.Manifests
	for i := range rcs {
		l := map[string]string{"app": fmt.Sprintf("app%04d", i)}
		m.ReplicationControllers = append(m.ReplicationControllers, mkRC(fmt.Sprintf("app%04d", i), replicas, l, "img:1", "10m"))
	}
	for i := range bare {
		m.Pods = append(m.Pods, mkPod(fmt.Sprintf("solo%03d", i), map[string]string{"solo": "yes"}, "img:1"))
	}
	in.Desired = rev("c1", m)
	in, steps, err := Simulate(cfg, in, 100)
	if err != nil || len(steps) == 0 {
		b.Fatalf("converge: %v after %d steps", err, len(steps))
	}
	if r := Plan(cfg, in); !r.Changes.Empty() {
		b.Fatalf("not converged: %d actions", len(r.Actions))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Plan(cfg, in)
	}
}
