package reconciler

import (
	"testing"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

func TestRCCreateSpreadsAndIsIdempotent(t *testing.T) {
	cfg := testConfig()
	in := world(t, cfg, mkNodes(3, 4000), api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, webLabels, "web:1", "100m")}})
	r := Plan(cfg, in)
	if got := count(r.Actions, ActCreatePod); got != 3 {
		t.Fatalf("created %d pods, want 3", got)
	}
	nodes := map[string]bool{}
	for _, p := range r.Changes.UpsertPods {
		if p.Owner != rcWeb || p.Desire != api.DesireRun || p.SpecHash == "" || p.Node == "" || p.Commit != "c1" {
			t.Fatalf("bad pod %+v", p)
		}
		if len(p.Name) != len("web-")+5 || p.Name[:4] != "web-" {
			t.Fatalf("name %q is not <rc>-<5 chars>", p.Name)
		}
		nodes[p.Node] = true
	}
	if len(nodes) != 3 {
		t.Fatalf("3 replicas on %d nodes, want spread over 3", len(nodes))
	}
	if !hasEvent(r.Changes.Events, "Scheduled", "") || !hasEvent(r.Changes.Events, "SuccessfulCreate", "") {
		t.Fatalf("missing events: %+v", r.Changes.Events)
	}
	assertQuiet(t, cfg, mustApply(t, in, r.Changes))
}

func TestRCScale(t *testing.T) {
	cfg := testConfig()
	m := api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, webLabels, "web:1", "100m")}}
	in := settle(t, cfg, world(t, cfg, mkNodes(3, 4000), m))
	if n := len(podsOf(in, rcWeb, api.DesireRun)); n != 3 {
		t.Fatalf("%d pods after settle", n)
	}

	tests := []struct {
		name           string
		replicas       int32
		notReady       bool // make one pod not ready first
		creates, stops int
	}{
		{"scale up", 5, false, 2, 0},
		{"scale down", 1, false, 0, 2},
		{"scale down stops not ready first", 2, true, 0, 1},
		{"scale to zero", 0, false, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := in
			st.Pods = append([]api.PodRecord(nil), in.Pods...)
			notReady := ""
			if tc.notReady {
				// the oldest-named, otherwise a poor stop choice, is the not-ready one
				st.Pods[1].Status.Ready = false
				notReady = st.Pods[1].UID
			}
			rc := mkRC("web", tc.replicas, webLabels, "web:1", "100m")
			st.Desired = rev("c2", api.Manifests{ReplicationControllers: []corev1.ReplicationController{rc}})
			r := Plan(cfg, st)
			if c, s := count(r.Actions, ActCreatePod), count(r.Actions, ActStopPod); c != tc.creates || s != tc.stops {
				t.Fatalf("creates %d stops %d, want %d %d: %+v", c, s, tc.creates, tc.stops, r.Actions)
			}
			if notReady != "" && r.Changes.UpsertPods[0].UID != notReady {
				t.Fatalf("stopped %s, want the not-ready %s", r.Changes.UpsertPods[0].UID, notReady)
			}
			after := mustApply(t, st, r.Changes)
			assertQuiet(t, cfg, after)
			final := settle(t, cfg, after)
			if n := len(podsOf(final, rcWeb, api.DesireRun)); n != int(tc.replicas) {
				t.Fatalf("%d pods, want %d", n, tc.replicas)
			}
			if n := len(podsOf(final, rcWeb, api.DesireStop)); n != 0 {
				t.Fatalf("%d stopped records left", n)
			}
		})
	}
}

// rollInvariants checks, on one committed state, the rolling-update guarantees.
func rollInvariants(t *testing.T, in Observed, owner string, replicas int) {
	t.Helper()
	run, ready := 0, 0
	for _, p := range podsOf(in, owner, api.DesireRun) {
		run++
		if p.Status.Ready {
			ready++
		}
	}
	if run > replicas+1 {
		t.Fatalf("%d pods running, more than replicas+1 = %d", run, replicas+1)
	}
	if ready < replicas-1 {
		t.Fatalf("%d pods ready, fewer than replicas-1 = %d", ready, replicas-1)
	}
}

func TestRCRollingUpdateOneAtATime(t *testing.T) {
	cfg := testConfig()
	m := api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, webLabels, "web:1", "100m")}}
	in := settle(t, cfg, world(t, cfg, mkNodes(3, 4000), m))
	in.Desired = rev("c2", api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, webLabels, "web:2", "100m")}})

	// Step 1: one new pod, no old pod stopped.
	r := Plan(cfg, in)
	if c, s := count(r.Actions, ActCreatePod), count(r.Actions, ActRollPod); c != 1 || s != 0 {
		t.Fatalf("first roll step: %d creates %d rolls, want 1 0", c, s)
	}
	in = mustApply(t, in, r.Changes)
	// The new pod is not Ready yet: nothing more happens.
	assertQuiet(t, cfg, in)
	// It becomes Ready: one old pod stops and the next new pod is created.
	in = readyAll(t, in)
	r = Plan(cfg, in)
	if c, s := count(r.Actions, ActCreatePod), count(r.Actions, ActRollPod); c != 1 || s != 1 {
		t.Fatalf("second roll step: %d creates %d rolls, want 1 1: %+v", c, s, r.Actions)
	}
	in = mustApply(t, in, r.Changes)
	rollInvariants(t, in, rcWeb, 3)

	// Drive to completion, checking the invariants after every step and agent round.
	for i := 0; i < 50; i++ {
		r = Plan(cfg, in)
		in = mustApply(t, in, r.Changes)
		rollInvariants(t, in, rcWeb, 3)
		var acted bool
		var err error
		if in, acted, err = simulateAgents(in); err != nil {
			t.Fatal(err)
		}
		rollInvariants(t, in, rcWeb, 3)
		if r.Changes.Empty() && !acted {
			break
		}
	}
	hash := specHash(webLabels, &in.Desired.Objects.ReplicationControllers[0].Spec.Template.Spec)
	pods := podsOf(in, rcWeb, api.DesireRun)
	if len(pods) != 3 {
		t.Fatalf("%d pods after roll", len(pods))
	}
	for _, p := range pods {
		if p.SpecHash != hash || !p.Status.Ready {
			t.Fatalf("pod %s not rolled: %+v", p.Name, p)
		}
	}
	if st := in.Status; st.Sync != api.Synced || st.Health != api.Healthy || st.AppliedCommit != "c2" {
		t.Fatalf("status %+v", st)
	}
}

// A new leader sees only the committed pods: 3 replicas, one new Ready pod, one old
// pod already stopping, two old Ready pods, one new Pending pod. It must continue the
// rollout without restarting it or stopping a Ready pod early.
func TestRCRollResumesOnNewLeader(t *testing.T) {
	cfg := testConfig()
	oldRC := mkRC("web", 3, webLabels, "web:1", "100m")
	newRC := mkRC("web", 3, webLabels, "web:2", "100m")
	oldHash := specHash(webLabels, &oldRC.Spec.Template.Spec)
	newHash := specHash(webLabels, &newRC.Spec.Template.Spec)
	in := world(t, cfg, mkNodes(3, 4000), api.Manifests{ReplicationControllers: []corev1.ReplicationController{newRC}})
	mk := func(uid, name, hash, node string, desire api.PodDesire, ready bool) api.PodRecord {
		p := api.PodRecord{UID: uid, Namespace: "default", Name: name, Owner: rcWeb, Labels: webLabels,
			Spec: oldRC.Spec.Template.Spec, SpecHash: hash, Node: node, Desire: desire, CreatedAt: t0}
		if hash == newHash {
			p.Spec = newRC.Spec.Template.Spec
		}
		if ready {
			p.Status = api.PodStatus{Phase: corev1.PodRunning, Ready: true, PodIP: "10.244.0." + uid[len(uid)-1:]}
		}
		return p
	}
	in.Pods = []api.PodRecord{
		mk("o1", "web-old01", oldHash, "n000", api.DesireStop, true),
		mk("o2", "web-old02", oldHash, "n001", api.DesireRun, true),
		mk("o3", "web-old03", oldHash, "n002", api.DesireRun, true),
		mk("n1", "web-new01", newHash, "n000", api.DesireRun, true),
		mk("n2", "web-new02", newHash, "n001", api.DesireRun, false),
	}
	r := Plan(cfg, in)
	if c, s := count(r.Actions, ActCreatePod), count(r.Actions, ActRollPod); c != 0 || s != 0 {
		t.Fatalf("new leader: %d creates %d rolls, want none while web-new02 is not ready: %+v", c, s, r.Actions)
	}
	// Once web-new02 is Ready, exactly one more old pod goes and the last new one comes.
	in = mustApply(t, in, r.Changes)
	for i := range in.Pods {
		if in.Pods[i].UID == "n2" {
			in.Pods[i].Status = api.PodStatus{Phase: corev1.PodRunning, Ready: true, PodIP: "10.244.1.9"}
		}
	}
	r = Plan(cfg, in)
	if c, s := count(r.Actions, ActCreatePod), count(r.Actions, ActRollPod); c != 1 || s != 1 {
		t.Fatalf("after n2 ready: %d creates %d rolls, want 1 1: %+v", c, s, r.Actions)
	}
	final := settle(t, cfg, mustApply(t, in, r.Changes))
	for _, p := range podsOf(final, rcWeb, api.DesireRun) {
		if p.SpecHash != newHash {
			t.Fatalf("old pod %s survived", p.Name)
		}
	}
	if n := len(podsOf(final, rcWeb, api.DesireRun)); n != 3 {
		t.Fatalf("%d pods", n)
	}
}

func TestRCRollStallsOnCrashLoop(t *testing.T) {
	cfg := testConfig()
	in := settle(t, cfg, world(t, cfg, mkNodes(3, 4000), api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, webLabels, "web:1", "100m")}}))
	in.Desired = rev("c2", api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, webLabels, "web:bad", "100m")}})
	in = mustApply(t, in, Plan(cfg, in).Changes)
	for i := range in.Pods {
		if in.Pods[i].Status.Phase == corev1.PodPending {
			in.Pods[i].Status = api.PodStatus{Phase: corev1.PodRunning, Containers: []api.ContainerStatus{{Name: "app", State: api.ContainerWaiting, Reason: "CrashLoopBackOff", RestartCount: 4}}}
		}
	}
	r := Plan(cfg, in)
	if count(r.Actions, ActRollPod)+count(r.Actions, ActCreatePod) != 0 {
		t.Fatalf("rollout went on past a crash-looping pod: %+v", r.Actions)
	}
	in = mustApply(t, in, r.Changes)
	rollInvariants(t, in, rcWeb, 3)
	var st api.ObjectStatus
	for _, s := range in.ObjectStatus {
		if s.Key == rcWeb {
			st = s
		}
	}
	if st.Health != api.Degraded || st.Sync != api.Progressing || !contains(st.Message, "CrashLoopBackOff") {
		t.Fatalf("status %+v", st)
	}
	if !hasEvent(r.Changes.Events, "Degraded", "CrashLoopBackOff") {
		t.Fatalf("no Degraded event: %+v", r.Changes.Events)
	}
	assertQuiet(t, cfg, in)
}

func TestRCAdoptAndRelease(t *testing.T) {
	cfg := testConfig()
	in := settle(t, cfg, world(t, cfg, mkNodes(3, 4000), api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, webLabels, "web:1", "100m")}}))

	t.Run("renamed RC adopts the pods", func(t *testing.T) {
		st := in
		st.Desired = rev("c2", api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web2", 3, webLabels, "web:1", "100m")}})
		r := Plan(cfg, st)
		if a, c, s := count(r.Actions, ActAdopt), count(r.Actions, ActCreatePod), count(r.Actions, ActStopPod); a != 3 || c != 0 || s != 0 {
			t.Fatalf("adopt %d create %d stop %d, want 3 0 0: %+v", a, c, s, r.Actions)
		}
		after := mustApply(t, st, r.Changes)
		if n := len(podsOf(after, "ReplicationController/default/web2", api.DesireRun)); n != 3 {
			t.Fatalf("web2 owns %d pods", n)
		}
		assertQuiet(t, cfg, after)
	})
	t.Run("selector change releases and replaces", func(t *testing.T) {
		st := in
		v2 := map[string]string{"app": "web", "track": "v2"}
		st.Desired = rev("c2", api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, v2, "web:1", "100m")}})
		r := Plan(cfg, st)
		if rel, c, s := count(r.Actions, ActRelease), count(r.Actions, ActCreatePod), count(r.Actions, ActStopPod); rel != 3 || c != 3 || s != 3 {
			t.Fatalf("release %d create %d stop %d, want 3 3 3: %+v", rel, c, s, r.Actions)
		}
	})
	t.Run("RC removed from Git prunes its pods", func(t *testing.T) {
		st := in
		st.Desired = rev("c2", api.Manifests{})
		r := Plan(cfg, st)
		if s := count(r.Actions, ActStopPod); s != 3 || !hasEvent(r.Changes.Events, "Pruned", "") {
			t.Fatalf("stops %d: %+v", s, r.Actions)
		}
		final := settle(t, cfg, mustApply(t, st, r.Changes))
		if len(final.Pods) != 0 {
			t.Fatalf("%d pod records left", len(final.Pods))
		}
	})
}

func TestTwoRCsBehindOneService(t *testing.T) {
	cfg := testConfig()
	v1 := map[string]string{"app": "web", "track": "stable"}
	v2 := map[string]string{"app": "web", "track": "canary"}
	m := api.Manifests{
		ReplicationControllers: []corev1.ReplicationController{mkRC("web-stable", 3, v1, "web:1", "100m"), mkRC("web-canary", 1, v2, "web:2", "100m")},
		Services:               []corev1.Service{mkSvc("web", webLabels, intstrName("http"))},
	}
	in := settle(t, cfg, world(t, cfg, mkNodes(3, 4000), m))
	if a, b := len(podsOf(in, "ReplicationController/default/web-stable", api.DesireRun)), len(podsOf(in, "ReplicationController/default/web-canary", api.DesireRun)); a != 3 || b != 1 {
		t.Fatalf("stable %d canary %d", a, b)
	}
	if len(in.Endpoints) != 1 || len(in.Endpoints[0].Ports) != 4 {
		t.Fatalf("endpoints %+v", in.Endpoints)
	}
	// Rolling the canary leaves the stable track alone.
	m.ReplicationControllers[1] = mkRC("web-canary", 1, v2, "web:3", "100m")
	in.Desired = rev("c2", m)
	r := Plan(cfg, in)
	for _, a := range r.Actions {
		if a.Object == "ReplicationController/default/web-stable" {
			t.Fatalf("stable track touched: %+v", a)
		}
	}
	final := settle(t, cfg, in)
	if a := len(podsOf(final, "ReplicationController/default/web-stable", api.DesireRun)); a != 3 {
		t.Fatalf("stable %d", a)
	}
}
