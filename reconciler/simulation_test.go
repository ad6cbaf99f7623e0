package reconciler

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// TestSimulationInvariants drives the loop over 300 fake nodes through random node
// deaths, scale changes and template changes (seeded), with simulated agents, and
// checks the invariants after every step and at every convergence.
func TestSimulationInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("long simulation")
	}
	rng := rand.New(rand.NewPCG(42, 7))
	cfg := testConfig()
	cfg.MaxPodsPerBatch = 500
	cfg.ClusterCIDR = "10.0.0.0/8" // the default /16 has only 256 node subnets
	const nRC = 8
	rcs := make([]corev1.ReplicationController, nRC)
	for i := range rcs {
		l := map[string]string{"app": fmt.Sprintf("app%d", i)}
		rcs[i] = mkRC(fmt.Sprintf("app%d", i), int32(20+rng.IntN(80)), l, "img:0", "100m")
	}
	manifests := func() api.Manifests {
		return api.Manifests{ReplicationControllers: append([]corev1.ReplicationController(nil), rcs...)}
	}
	in := world(t, cfg, mkNodes(300, 16000), manifests())
	alive := map[string]bool{}
	for _, n := range in.Nodes {
		alive[n.Name] = true
	}
	now := t0
	beat := func() {
		in.Now = now
		in.Heartbeats = map[string]time.Time{}
		for _, n := range in.Nodes {
			if alive[n.Name] {
				in.Heartbeats[n.Name] = now
			} else {
				in.Heartbeats[n.Name] = t0 // long dead
			}
		}
	}
	converge := func(round int) {
		for step := 0; step < 300; step++ {
			r := Plan(cfg, in)
			in = mustApply(t, in, r.Changes)
			checkStepInvariants(t, in)
			var acted bool
			var err error
			if in, acted, err = simulateAgents(in); err != nil {
				t.Fatal(err)
			}
			if r.Changes.Empty() && !acted {
				return
			}
		}
		t.Fatalf("round %d: no convergence in 300 steps", round)
	}

	for round := 0; round < 25; round++ {
		now = now.Add(30 * time.Second) // long enough for killed nodes to be Down
		switch ev := rng.IntN(3); ev {
		case 0:
			k := 1 + rng.IntN(8)
			for range k {
				alive[in.Nodes[rng.IntN(len(in.Nodes))].Name] = false
			}
			t.Logf("round %d: kill %d nodes", round, k)
		case 1:
			i := rng.IntN(nRC)
			n := int32(rng.IntN(120))
			t.Logf("round %d: scale %s %d → %d", round, rcs[i].Name, *rcs[i].Spec.Replicas, n)
			rcs[i].Spec.Replicas = &n
		case 2:
			i := rng.IntN(nRC)
			rcs[i] = *rcs[i].DeepCopy()
			rcs[i].Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("img:%d", round+1)
			t.Logf("round %d: roll %s (%d replicas)", round, rcs[i].Name, *rcs[i].Spec.Replicas)
		}
		in.Desired = rev(fmt.Sprintf("c%d", round), manifests())
		beat()
		converge(round)
		checkConverged(t, in, rcs, alive)
	}
}

// checkStepInvariants holds on every committed state.
func checkStepInvariants(t *testing.T, in Observed) {
	t.Helper()
	down := map[string]bool{}
	for _, n := range in.Nodes {
		if n.Status == api.NodeDown {
			down[n.Name] = true
		}
	}
	names := map[string]bool{}
	for _, p := range in.Pods {
		if p.Desire != api.DesireRun {
			continue
		}
		if down[p.Node] {
			t.Fatalf("Run pod %s on Down node %s", p.Name, p.Node)
		}
		k := p.Namespace + "/" + p.Name
		if names[k] {
			t.Fatalf("two Run pods named %s", k)
		}
		names[k] = true
	}
}

// checkConverged holds once the loop is quiet: replica counts, templates, readiness
// and spread within ±1 over the live nodes (capacity is ample).
func checkConverged(t *testing.T, in Observed, rcs []corev1.ReplicationController, alive map[string]bool) {
	t.Helper()
	for i := range rcs {
		rc := &rcs[i]
		key := api.Key("ReplicationController", "default", rc.Name)
		hash := specHash(rc.Spec.Template.Labels, &rc.Spec.Template.Spec)
		pods := podsOf(in, key, api.DesireRun)
		if len(pods) != int(*rc.Spec.Replicas) {
			t.Fatalf("%s: %d pods, want %d", key, len(pods), *rc.Spec.Replicas)
		}
		perNode := map[string]int{}
		for _, p := range pods {
			if p.SpecHash != hash || !p.Status.Ready || !alive[p.Node] {
				t.Fatalf("%s: pod %s not current/ready/alive: %+v", key, p.Name, p)
			}
			perNode[p.Node]++
		}
		lo, hi := 1<<30, 0
		for name, ok := range alive {
			if ok {
				lo, hi = min(lo, perNode[name]), max(hi, perNode[name])
			}
		}
		if len(pods) > 0 && hi-lo > 1 {
			hist := map[int]int{}
			for name, ok := range alive {
				if ok {
					hist[perNode[name]]++
				}
			}
			t.Fatalf("%s: spread %d..%d per node (nodes by pod count: %v)", key, lo, hi, hist)
		}
	}
	if len(podsOf(in, "", api.DesireStop)) > 0 {
		t.Fatalf("stopped records left")
	}
}
