package raftstore

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// applyCmd applies one command at the next index and returns the FSM's response.
func applyCmd(t *testing.T, f *FSM, cmd Command) any {
	t.Helper()
	data, err := cmd.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: f.Index() + 1, Type: raft.LogCommand, Data: data})
}

func mustApply(t *testing.T, f *FSM, cmd Command) {
	t.Helper()
	if resp := applyCmd(t, f, cmd); resp != nil {
		t.Fatalf("apply %s: %v", cmd.Type, resp)
	}
}

func pod(uid, node string) api.PodRecord {
	return api.PodRecord{
		UID: uid, Namespace: "default", Name: "web-" + uid, Owner: "ReplicationController/default/web",
		Labels: map[string]string{"app": "web"}, Node: node, Desire: api.DesireRun, CreatedAt: t0,
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}
}

func reg(name string) api.NodeRegistration {
	return api.NodeRegistration{Name: name, Address: "10.0.0.1", Capacity: api.Resources{MilliCPU: 2000, MemoryBytes: 1 << 30}}
}

func TestRegisterNode(t *testing.T) {
	f := NewFSM(nil, 0)
	mustApply(t, f, RegisterNodeCmd(reg("n1"), t0))
	n, ok := f.State().Node("n1")
	if !ok || n.Status != api.NodeReady || !n.RegisteredAt.Equal(t0) || n.Address != "10.0.0.1" {
		t.Fatalf("new node = %+v, %v", n, ok)
	}
	// The leader marks it NotReady; a re-registration updates the address but leaves
	// status and registration time to their owners.
	mustApply(t, f, ApplyChangesCmd(api.Changes{Nodes: []api.NodePatch{{Name: "n1", Status: api.NodeNotReady, StatusReason: "no heartbeat", PodCIDR: "10.244.1.0/24", At: t0.Add(time.Minute)}}}))
	r := reg("n1")
	r.Address = "10.0.0.9"
	r.Taints = []api.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	mustApply(t, f, RegisterNodeCmd(r, t0.Add(time.Hour)))
	n, _ = f.State().Node("n1")
	if len(n.Taints) != 1 || n.Taints[0].Key != "dedicated" {
		t.Errorf("taints of the re-registered node = %+v", n.Taints)
	}
	if n.Address != "10.0.0.9" || n.Status != api.NodeNotReady || !n.RegisteredAt.Equal(t0) || n.PodCIDR != "10.244.1.0/24" || !n.StatusChangedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("re-registered node = %+v", n)
	}
	if resp := applyCmd(t, f, RegisterNodeCmd(api.NodeRegistration{}, t0)); resp == nil {
		t.Fatal("registering a node without a name was accepted")
	}
}

func TestRevisions(t *testing.T) {
	f := NewFSM(nil, 0)
	good := api.Revision{Commit: "c1", Objects: api.Manifests{Pods: []corev1.Pod{{}}}}
	mustApply(t, f, SetRevisionCmd(good))
	bad := api.RefusedRevision{Commit: "c2", Reason: "1 invalid object", Errors: []api.FieldError{{Message: "boom"}}}
	mustApply(t, f, RefuseRevisionCmd(bad))
	st := f.State()
	if st.Revision().Commit != "c1" || len(st.Revision().Objects.Pods) != 1 {
		t.Fatalf("last good revision = %+v", st.Revision())
	}
	if st.Refused() == nil || st.Refused().Commit != "c2" {
		t.Fatalf("refused = %+v", st.Refused())
	}
	if resp := applyCmd(t, f, SetRevisionCmd(api.Revision{Commit: "c3", Errors: bad.Errors})); resp == nil {
		t.Fatal("an invalid revision was set as the last good one")
	}
	mustApply(t, f, SetRevisionCmd(api.Revision{Commit: "c4"}))
	st = f.State()
	if st.Revision().Commit != "c4" || st.Refused() != nil {
		t.Fatalf("after a newer good commit: revision %s refused %+v", st.Revision().Commit, st.Refused())
	}
	mustApply(t, f, SetSourceStatusCmd(api.SourceStatus{URL: "file:///r", Branch: "main", Healthy: true, Head: "c4"}))
	if s := f.State().Source(); !s.Healthy || s.Head != "c4" {
		t.Fatalf("source = %+v", s)
	}
}

func TestApplyChanges(t *testing.T) {
	f := NewFSM(nil, 0)
	mustApply(t, f, RegisterNodeCmd(reg("n1"), t0))
	mustApply(t, f, ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{pod("a", "n1"), pod("b", "n1"), pod("c", "")}}))
	mustApply(t, f, ReportPodStatusCmd([]api.PodStatusReport{{UID: "a", Node: "n1", Status: api.PodStatus{Phase: corev1.PodRunning, Ready: true, PodIP: "10.244.1.5"}}}))

	// Moving pod a and re-upserting keeps its agent-written status.
	moved := pod("a", "n2")
	moved.Desire = api.DesireStop
	svc := api.ServiceRecord{Namespace: "default", Name: "web", Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}}
	eps := api.Endpoints{Namespace: "default", Name: "web", Ports: []api.Endpoint{{PodUID: "a", IP: "10.244.1.5", Port: 80, Ready: true}}}
	status := api.ClusterStatus{AppliedCommit: "c1", Sync: api.Synced, Health: api.Healthy}
	mustApply(t, f, ApplyChangesCmd(api.Changes{
		UpsertPods:     []api.PodRecord{moved},
		DeletePods:     []string{"b", "missing"},
		SetPodStatus:   []api.PodStatusReport{{UID: "c", Status: api.PodStatus{Phase: corev1.PodPending, Reason: "Unschedulable"}}},
		UpsertServices: []api.ServiceRecord{svc},
		SetEndpoints:   []api.Endpoints{eps},
		ObjectStatus:   []api.ObjectStatus{{Key: "ReplicationController/default/web", Sync: api.Synced, Health: api.Healthy}},
		Status:         &status,
		Events:         []api.Event{{Reason: "Scheduled", Object: "Pod/default/web-a"}, {Reason: "Evicted"}},
	}))
	st := f.State()
	a, _ := st.Pod("a")
	if a.Node != "n2" || a.Desire != api.DesireStop || !a.Status.Ready || a.Status.PodIP != "10.244.1.5" {
		t.Fatalf("pod a = %+v", a)
	}
	if _, ok := st.Pod("b"); ok {
		t.Fatal("pod b not deleted")
	}
	if c, _ := st.Pod("c"); c.Status.Reason != "Unschedulable" {
		t.Fatalf("pod c status = %+v", c.Status)
	}
	if len(st.PodsOnNode("n1")) != 0 || len(st.PodsOnNode("n2")) != 1 || len(st.PodsByOwner("ReplicationController/default/web")) != 2 {
		t.Fatalf("indexes: n1=%d n2=%d", len(st.PodsOnNode("n1")), len(st.PodsOnNode("n2")))
	}
	if len(st.PodsByName("default", "web-a")) != 1 {
		t.Fatal("name index misses pod a")
	}
	if s := st.Services(); len(s) != 1 || s[0].Spec.ClusterIP != "10.96.0.10" {
		t.Fatalf("services = %+v", s)
	}
	if e := st.Endpoints(); len(e) != 1 || e[0].Ports[0].PodUID != "a" {
		t.Fatalf("endpoints = %+v", e)
	}
	if st.Cluster() != status || len(st.ObjectStatus()) != 1 {
		t.Fatalf("cluster %+v objects %+v", st.Cluster(), st.ObjectStatus())
	}
	ev := st.Events(0, 0)
	if len(ev) != 2 || ev[0].Seq != 1 || ev[1].Seq != 2 {
		t.Fatalf("events = %+v", ev)
	}

	// Deletes, and an empty (non-nil) object status table clears it.
	mustApply(t, f, ApplyChangesCmd(api.Changes{
		DeleteServices: []string{"Service/default/web"}, DeleteEndpoints: []string{"Service/default/web"},
		ObjectStatus: []api.ObjectStatus{},
	}))
	st = f.State()
	if len(st.Services()) != 0 || len(st.Endpoints()) != 0 || len(st.ObjectStatus()) != 0 {
		t.Fatalf("after deletes: %d services, %d endpoints, %d objects", len(st.Services()), len(st.Endpoints()), len(st.ObjectStatus()))
	}
}

func TestEventsBounded(t *testing.T) {
	f := NewFSM(nil, 5)
	for i := range 4 {
		var evs []api.Event
		for j := range 3 {
			evs = append(evs, api.Event{Reason: fmt.Sprintf("e%d-%d", i, j)})
		}
		mustApply(t, f, ApplyChangesCmd(api.Changes{Events: evs}))
	}
	ev := f.State().Events(0, 0)
	if len(ev) != 5 || ev[0].Seq != 8 || ev[4].Seq != 12 || ev[4].Reason != "e3-2" {
		t.Fatalf("events = %+v", ev)
	}
	if ev := f.State().Events(10, 1); len(ev) != 1 || ev[0].Seq != 11 {
		t.Fatalf("events since 10 limit 1 = %+v", ev)
	}
}

func TestReportPodStatusFencing(t *testing.T) {
	f := NewFSM(nil, 0)
	stopping := pod("s", "n1")
	stopping.Desire = api.DesireStop
	mustApply(t, f, ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{pod("a", "n1"), stopping, pod("p", "")}}))
	running := api.PodStatus{Phase: corev1.PodRunning}
	mustApply(t, f, ReportPodStatusCmd([]api.PodStatusReport{
		{UID: "a", Node: "n2", Status: running},             // wrong node: fenced
		{UID: "p", Node: "n1", Status: running},             // unscheduled: fenced
		{UID: "zzz", Node: "n1", Status: running},           // unknown UID: ignored
		{UID: "s", Node: "n1", Gone: true, Status: running}, // stopped and released: removed
	}))
	st := f.State()
	if a, _ := st.Pod("a"); a.Status.Phase != "" {
		t.Fatalf("a report from the wrong node was applied: %+v", a.Status)
	}
	if p, _ := st.Pod("p"); p.Status.Phase != "" {
		t.Fatalf("a report for an unscheduled pod was applied: %+v", p.Status)
	}
	if _, ok := st.Pod("s"); ok {
		t.Fatal("a stopped pod reported gone was kept")
	}
	mustApply(t, f, ReportPodStatusCmd([]api.PodStatusReport{{UID: "a", Node: "n1", Status: running}}))
	if a, _ := f.State().Pod("a"); a.Status.Phase != corev1.PodRunning {
		t.Fatalf("a report from the right node was not applied: %+v", a.Status)
	}
}

func TestServersTable(t *testing.T) {
	f := NewFSM(nil, 0)
	mustApply(t, f, RegisterServerCmd(ServerRecord{ID: "s1", RaftAddr: "127.0.0.1:1", HTTPAddr: "http://127.0.0.1:2"}))
	mustApply(t, f, RegisterServerCmd(ServerRecord{ID: "s2", RaftAddr: "127.0.0.1:3"}))
	mustApply(t, f, RemoveServerCmd("s2"))
	if s := f.State().ServerRecords(); len(s) != 1 || s[0].HTTPAddr != "http://127.0.0.1:2" {
		t.Fatalf("servers = %+v", s)
	}
}

// TestNodeViewIndex: a change to another node's pods does not wake this node's view.
func TestNodeViewIndex(t *testing.T) {
	f := NewFSM(nil, 0)
	mustApply(t, f, ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{pod("a", "n1")}}))
	i1 := f.State().NodeViewIndex("n1")
	mustApply(t, f, ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{pod("b", "n2")}}))
	st := f.State()
	if st.NodeViewIndex("n1") != i1 || st.NodeViewIndex("n2") != st.Index() {
		t.Fatalf("n1 index %d (was %d), n2 index %d at %d", st.NodeViewIndex("n1"), i1, st.NodeViewIndex("n2"), st.Index())
	}
	// Moving a pod away from n1 wakes n1.
	mustApply(t, f, ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{pod("a", "n2")}}))
	if st := f.State(); st.NodeViewIndex("n1") != st.Index() {
		t.Fatal("moving a pod off n1 did not change n1's view index")
	}
}

func TestMalformedEntriesPanic(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":        nil,
		"unknown type": {200, '{', '}'},
		"bad body":     append([]byte{byte(ApplyChangesType)}, "{not json"...),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			NewFSM(nil, 0).Apply(&raft.Log{Index: 1, Data: data})
		})
	}
}

// sampleLog exercises every command type.
func sampleLog() []Command {
	status := api.ClusterStatus{AppliedCommit: "c1", Sync: api.Progressing}
	return []Command{
		RegisterServerCmd(ServerRecord{ID: "s1", RaftAddr: "a:1", HTTPAddr: "http://a:2"}),
		SetSourceStatusCmd(api.SourceStatus{URL: "u", Branch: "main", Healthy: true}),
		SetRevisionCmd(api.Revision{Commit: "c1", Time: t0, Objects: api.Manifests{Sources: map[string]api.Source{"Pod/default/x": {File: "x.yaml", Line: 1}}}}),
		RegisterNodeCmd(reg("n1"), t0),
		RegisterNodeCmd(reg("n2"), t0),
		ApplyChangesCmd(api.Changes{
			UpsertPods:     []api.PodRecord{pod("a", "n1"), pod("b", "n2"), pod("c", "")},
			UpsertServices: []api.ServiceRecord{{Namespace: "default", Name: "web"}},
			SetEndpoints:   []api.Endpoints{{Namespace: "default", Name: "web"}},
			Nodes:          []api.NodePatch{{Name: "n1", PodCIDR: "10.244.1.0/24", At: t0}},
			ObjectStatus:   []api.ObjectStatus{{Key: "k", Sync: api.OutOfSync}},
			Status:         &status,
			Events:         []api.Event{{Time: t0, Reason: "Scheduled"}},
		}),
		ReportPodStatusCmd([]api.PodStatusReport{{UID: "a", Node: "n1", Status: api.PodStatus{Phase: corev1.PodRunning, StartedAt: t0}}}),
		RefuseRevisionCmd(api.RefusedRevision{Commit: "c2", Errors: []api.FieldError{{Message: "x"}}}),
		ApplyChangesCmd(api.Changes{DeletePods: []string{"b"}, Events: []api.Event{{Reason: "Deleted"}}}),
		RemoveServerCmd("nope"),
	}
}

func TestSameLogSameHash(t *testing.T) {
	a, b := NewFSM(nil, 0), NewFSM(nil, 0)
	for _, c := range sampleLog() {
		mustApply(t, a, c)
		mustApply(t, b, c)
	}
	if a.State().Hash() != b.State().Hash() {
		t.Fatal("two FSMs fed the same log have different hashes")
	}
	if NewFSM(nil, 0).State().Hash() == a.State().Hash() {
		t.Fatal("hash ignores the state")
	}
}

type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func TestSnapshotRestore(t *testing.T) {
	a := NewFSM(nil, 0)
	log := sampleLog()
	for _, c := range log[:6] {
		mustApply(t, a, c)
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want := a.State().Hash()
	// Applies after the snapshot was taken do not leak into it.
	for _, c := range log[6:] {
		mustApply(t, a, c)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil || sink.cancelled {
		t.Fatalf("persist: %v (cancelled %v)", err, sink.cancelled)
	}
	b := NewFSM(nil, 0)
	mustApply(t, b, RegisterNodeCmd(reg("stale"), t0)) // replaced wholesale by the restore
	if err := b.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := b.State().Hash(); got != want {
		t.Fatalf("restored hash %s, want %s", got, want)
	}
	// And continuing the log on the restored FSM reaches the same state as the original.
	for _, c := range log[6:] {
		mustApply(t, b, c)
	}
	if b.State().Hash() != a.State().Hash() {
		t.Fatal("restored FSM diverged after replaying the rest of the log")
	}
	if err := b.Restore(io.NopCloser(strings.NewReader("garbage"))); err == nil {
		t.Fatal("restoring garbage succeeded")
	}
}
