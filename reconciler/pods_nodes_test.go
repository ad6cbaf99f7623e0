package reconciler

import (
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

const podDB = "Pod/default/db"

func TestBarePods(t *testing.T) {
	cfg := testConfig()
	m := api.Manifests{Pods: []corev1.Pod{mkPod("db", map[string]string{"app": "db"}, "db:1")}}
	base := world(t, cfg, mkNodes(2, 4000), m)

	t.Run("create", func(t *testing.T) {
		r := Plan(cfg, base)
		if len(r.Changes.UpsertPods) != 1 {
			t.Fatalf("upserts %+v", r.Changes.UpsertPods)
		}
		p := r.Changes.UpsertPods[0]
		if p.Name != "db" || p.Owner != podDB || p.UID == "" || p.Node == "" {
			t.Fatalf("pod %+v", p)
		}
		assertQuiet(t, cfg, mustApply(t, base, r.Changes))
	})
	running := settle(t, cfg, base)
	oldUID := running.Pods[0].UID

	t.Run("spec change replaces with a new UID", func(t *testing.T) {
		st := running
		st.Desired = rev("c2", api.Manifests{Pods: []corev1.Pod{mkPod("db", map[string]string{"app": "db"}, "db:2")}})
		r := Plan(cfg, st)
		if c, s := count(r.Actions, ActCreatePod), count(r.Actions, ActStopPod); c != 1 || s != 1 {
			t.Fatalf("create %d stop %d: %+v", c, s, r.Actions)
		}
		after := mustApply(t, st, r.Changes)
		assertQuiet(t, cfg, after)
		final := settle(t, cfg, after)
		run := podsOf(final, podDB, api.DesireRun)
		if len(final.Pods) != 1 || len(run) != 1 || run[0].UID == oldUID || run[0].Name != "db" {
			t.Fatalf("pods %+v", final.Pods)
		}
	})
	t.Run("removed from Git", func(t *testing.T) {
		st := running
		st.Desired = rev("c2", api.Manifests{})
		r := Plan(cfg, st)
		if s := count(r.Actions, ActStopPod); s != 1 || !hasEvent(r.Changes.Events, "Pruned", "") {
			t.Fatalf("actions %+v", r.Actions)
		}
		if final := settle(t, cfg, mustApply(t, st, r.Changes)); len(final.Pods) != 0 {
			t.Fatalf("pods left %+v", final.Pods)
		}
	})
	t.Run("node lost: marked lost and rescheduled", func(t *testing.T) {
		st := running
		dead := st.Pods[0].Node
		st.Now = t0.Add(25 * time.Second)
		st.Heartbeats = map[string]time.Time{}
		for _, n := range st.Nodes {
			st.Heartbeats[n.Name] = st.Now
		}
		st.Heartbeats[dead] = t0
		r := Plan(cfg, st)
		if e, c := count(r.Actions, ActEvictPod), count(r.Actions, ActCreatePod); e != 1 || c != 1 {
			t.Fatalf("evict %d create %d: %+v", e, c, r.Actions)
		}
		if len(r.Changes.SetPodStatus) != 1 || r.Changes.SetPodStatus[0].Status.Reason != "NodeLost" || r.Changes.SetPodStatus[0].Status.Phase != corev1.PodFailed {
			t.Fatalf("lost status %+v", r.Changes.SetPodStatus)
		}
		after := mustApply(t, st, r.Changes)
		var lost, repl api.PodRecord
		for _, p := range after.Pods {
			if p.UID == oldUID {
				lost = p
			} else {
				repl = p
			}
		}
		if lost.Desire != api.DesireStop || lost.Status.Reason != "NodeLost" || repl.Node == dead || repl.Node == "" || repl.Name != "db" {
			t.Fatalf("lost %+v repl %+v", lost, repl)
		}
		// Next step: the lost record is deleted (its node is Down); then quiet.
		r = Plan(cfg, after)
		if len(r.Changes.DeletePods) != 1 || r.Changes.DeletePods[0] != oldUID {
			t.Fatalf("deletes %+v", r.Changes.DeletePods)
		}
		assertQuiet(t, cfg, mustApply(t, after, r.Changes))
	})
}

func TestNodeLifecycle(t *testing.T) {
	cfg := testConfig()
	m := api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 4, webLabels, "web:1", "100m")}}
	in := settle(t, cfg, world(t, cfg, mkNodes(2, 4000), m))
	beat := func(st *Observed, now time.Time, deadSince time.Time) {
		st.Now = now
		st.Heartbeats = map[string]time.Time{"n000": now, "n001": deadSince}
	}

	// 11s without heartbeat: NotReady, pods stay (not evicted yet) but not ready for
	// endpoints; no new pods go there.
	beat(&in, t0.Add(11*time.Second), t0)
	r := Plan(cfg, in)
	if len(r.Changes.Nodes) != 1 || r.Changes.Nodes[0].Status != api.NodeNotReady || !hasEvent(r.Changes.Events, "NodeNotReady", "") {
		t.Fatalf("patches %+v events %+v", r.Changes.Nodes, r.Changes.Events)
	}
	if count(r.Actions, ActEvictPod) != 0 || count(r.Actions, ActCreatePod) != 0 {
		t.Fatalf("acted on NotReady: %+v", r.Actions)
	}
	in = mustApply(t, in, r.Changes)
	assertQuiet(t, cfg, in)

	// 21s: Down; its 2 pods are evicted and replaced on n000.
	beat(&in, t0.Add(21*time.Second), t0)
	r = Plan(cfg, in)
	if len(r.Changes.Nodes) != 1 || r.Changes.Nodes[0].Status != api.NodeDown || !hasEvent(r.Changes.Events, "NodeDown", "") {
		t.Fatalf("patches %+v", r.Changes.Nodes)
	}
	if e, c := count(r.Actions, ActEvictPod), count(r.Actions, ActCreatePod); e != 2 || c != 2 {
		t.Fatalf("evict %d create %d", e, c)
	}
	in = settle(t, cfg, mustApply(t, in, r.Changes))
	for _, p := range in.Pods {
		if p.Node == "n001" {
			t.Fatalf("pod %s still on the Down node: %+v", p.Name, p)
		}
	}
	if n := len(podsOf(in, rcWeb, api.DesireRun)); n != 4 {
		t.Fatalf("%d pods", n)
	}

	// The node heartbeats again: Ready, and nothing of its old pods comes back.
	beat(&in, t0.Add(40*time.Second), t0.Add(40*time.Second))
	r = Plan(cfg, in)
	if len(r.Changes.Nodes) != 1 || r.Changes.Nodes[0].Status != api.NodeReady || !hasEvent(r.Changes.Events, "NodeReady", "") {
		t.Fatalf("patches %+v", r.Changes.Nodes)
	}
	if len(r.Changes.UpsertPods) != 0 {
		t.Fatalf("pods changed on node return: %+v", r.Actions)
	}
}

func TestNewLeaderWithoutHeartbeatsEvictsNothing(t *testing.T) {
	cfg := testConfig()
	in := settle(t, cfg, world(t, cfg, mkNodes(2, 4000), api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 2, webLabels, "web:1", "")}}))
	in.Now = t0.Add(time.Hour)
	in.Heartbeats = nil
	assertQuiet(t, cfg, in)
}

func TestPodCIDRAllocation(t *testing.T) {
	cfg := testConfig()
	nodes := mkNodes(3, 1000)
	nodes[1].PodCIDR = "10.244.0.0/24" // held by n001: never handed out again
	in := Observed{Now: t0, Nodes: nodes}
	r := Plan(cfg, in)
	got := map[string]string{}
	for _, p := range r.Changes.Nodes {
		got[p.Name] = p.PodCIDR
	}
	want := map[string]string{"n000": "10.244.1.0/24", "n002": "10.244.2.0/24"}
	if len(got) != 2 || got["n000"] != want["n000"] || got["n002"] != want["n002"] {
		t.Fatalf("got %v want %v", got, want)
	}
	assertQuiet(t, cfg, mustApply(t, in, r.Changes))
}

func TestScheduler(t *testing.T) {
	withLabels := func(n api.Node, l map[string]string) api.Node { n.Labels = l; return n }
	hostPortRC := mkRC("web", 3, webLabels, "web:1", "100m")
	hostPortRC.Spec.Template.Spec.Containers[0].Ports[0].HostPort = 8080
	selRC := mkRC("web", 2, webLabels, "web:1", "100m")
	selRC.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	notReady := mkNode("n002", 4000, nil)
	notReady.Status = api.NodeNotReady

	tests := []struct {
		name        string
		nodes       []api.Node
		rc          corev1.ReplicationController
		placed      int
		msg         string // FailedScheduling message (substring) for the rest
		onlyOnNodes map[string]bool
	}{
		{"insufficient cpu with reasons", []api.Node{mkNode("n000", 1000, nil), mkNode("n001", 1000, nil), notReady},
			mkRC("web", 2, webLabels, "web:1", "2"), 0, "0/3 nodes are available: 2 insufficient cpu, 1 NotReady", nil},
		{"fills capacity then pending", mkNodes(2, 1000), mkRC("web", 5, webLabels, "web:1", "400m"), 4,
			"0/2 nodes are available: 2 insufficient cpu", nil},
		{"hostPort conflict", mkNodes(2, 4000), hostPortRC, 2, "0/2 nodes are available: 2 hostPort TCP/8080 in use", nil},
		{"nodeSelector", []api.Node{mkNode("n000", 4000, nil), withLabels(mkNode("n001", 4000, nil), map[string]string{"disk": "ssd"})},
			selRC, 2, "", map[string]bool{"n001": true}},
		{"cordoned", []api.Node{func() api.Node { n := mkNode("n000", 4000, nil); n.Unschedulable = true; return n }()},
			mkRC("web", 1, webLabels, "web:1", ""), 0, "0/1 nodes are available: 1 unschedulable", nil},
		{"no nodes", nil, mkRC("web", 1, webLabels, "web:1", ""), 0, "0/0 nodes are available", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			in := world(t, cfg, tc.nodes, api.Manifests{ReplicationControllers: []corev1.ReplicationController{tc.rc}})
			r := Plan(cfg, in)
			placed := 0
			for _, p := range r.Changes.UpsertPods {
				if p.Node != "" {
					placed++
					if tc.onlyOnNodes != nil && !tc.onlyOnNodes[p.Node] {
						t.Fatalf("placed on %s", p.Node)
					}
					continue
				}
				if p.Status.Reason != "Unschedulable" || !contains(p.Status.Message, tc.msg) {
					t.Fatalf("pending pod status %+v, want message %q", p.Status, tc.msg)
				}
			}
			if placed != tc.placed {
				t.Fatalf("placed %d want %d: %+v", placed, tc.placed, r.Actions)
			}
			if tc.msg != "" && !hasEvent(r.Changes.Events, "FailedScheduling", tc.msg) {
				t.Fatalf("no FailedScheduling event %q: %+v", tc.msg, r.Changes.Events)
			}
			after := mustApply(t, in, r.Changes)
			// The same reason is not reported again.
			assertQuiet(t, cfg, after)
		})
	}
}

func TestUnschedulablePodGetsPlacedWhenANodeJoins(t *testing.T) {
	cfg := testConfig()
	in := world(t, cfg, nil, api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 1, webLabels, "web:1", "")}})
	in = mustApply(t, in, Plan(cfg, in).Changes)
	if in.Pods[0].Status.Reason != "Unschedulable" {
		t.Fatalf("status %+v", in.Pods[0].Status)
	}
	in.Nodes = mkNodes(1, 1000)
	in.Heartbeats = map[string]time.Time{"n000": t0}
	r := Plan(cfg, in) // allocates the CIDR and places the pod in one step
	if count(r.Actions, ActSchedule) != 1 || len(r.Changes.SetPodStatus) != 1 || r.Changes.SetPodStatus[0].Status.Reason != "" {
		t.Fatalf("actions %+v status %+v", r.Actions, r.Changes.SetPodStatus)
	}
}
