package raftstore

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/keelson/keelson/api"
)

// Every memdb table is in the snapshot exactly once: a table added to schema() without
// a codec would be lost by every restore.
func TestSnapshotCoversSchema(t *testing.T) {
	var inSnap []string
	for _, tc := range snapshotTables {
		inSnap = append(inSnap, tc.name)
	}
	var inSchema []string
	for name := range schema().Tables {
		inSchema = append(inSchema, name)
	}
	slices.Sort(inSchema)
	sorted := slices.Sorted(slices.Values(inSnap))
	if !slices.Equal(sorted, inSchema) || len(slices.Compact(sorted)) != len(inSnap) {
		t.Fatalf("snapshot tables %v, schema tables %v", inSnap, inSchema)
	}
}

func persist(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil || sink.cancelled {
		t.Fatalf("persist: %v (cancelled %v)", err, sink.cancelled)
	}
	return sink.Bytes()
}

func restore(f *FSM, data []byte) error { return f.Restore(io.NopCloser(bytes.NewReader(data))) }

// templatePods returns n replicas of one template, as the reconciler writes them.
func templatePods(n int) []api.PodRecord {
	var pods []api.PodRecord
	for i := range n {
		p := pod(string(rune('a'+i)), "n1")
		p.SpecHash = "h1"
		pods = append(pods, p)
	}
	return pods
}

// A snapshot writes a template's spec once, and the restored store shares it again.
func TestSnapshotSharesSpecs(t *testing.T) {
	a := NewFSM(nil, 0)
	mustApply(t, a, ApplyChangesCmd(api.Changes{UpsertPods: templatePods(3)}))
	data := persist(t, a)
	if n := strings.Count(string(data), `"image":"img:1"`); n != 1 {
		t.Fatalf("the spec is written %d times, want once:\n%s", n, data)
	}
	b := NewFSM(nil, 0)
	if err := restore(b, data); err != nil {
		t.Fatal(err)
	}
	if b.State().Hash() != a.State().Hash() {
		t.Fatal("restored hash differs")
	}
	pods := b.State().Pods()
	if &pods[0].Spec.Containers[0] != &pods[2].Spec.Containers[0] {
		t.Fatal("restored replicas hold separate specs")
	}
}

// A version-1 snapshot (one JSON document) written by an older server still restores.
func TestRestoreV1(t *testing.T) {
	a := NewFSM(nil, 0)
	for _, c := range sampleLog() {
		mustApply(t, a, c)
	}
	mustApply(t, a, ApplyChangesCmd(api.Changes{UpsertPods: templatePods(2)}))
	st := a.State()
	v1 := snapshotV1{
		Version: 1, Index: st.Index(), Meta: st.meta(), Indexes: list[indexEntry](st.tx, tableIndex, "id"),
		Objects: st.ObjectStatus(), Nodes: st.Nodes(), Pods: st.Pods(), Services: st.Services(),
		Endpoints: st.Endpoints(), Events: st.Events(0, 0), Servers: st.ServerRecords(),
	}
	data, err := json.Marshal(v1)
	if err != nil {
		t.Fatal(err)
	}
	b := NewFSM(nil, 0)
	if err := restore(b, data); err != nil {
		t.Fatal(err)
	}
	if b.State().Hash() != st.Hash() || b.Index() != st.Index() {
		t.Fatalf("v1 restore: hash/index differ (%d, want %d)", b.Index(), st.Index())
	}
}

// Bad snapshots are refused with a clear error and leave the state as it was.
func TestRestoreRefusesBadSnapshots(t *testing.T) {
	a := NewFSM(nil, 0)
	for _, c := range sampleLog() {
		mustApply(t, a, c)
	}
	good := persist(t, a)
	lines := strings.SplitAfter(string(good), "\n")
	cases := map[string]struct{ data, want string }{
		"unknown version": {`{"version":3,"tables":0}`, "snapshot version 3 is not supported"},
		"truncated":       {strings.Join(lines[:len(lines)-4], ""), "decode"},
		"unknown table":   {`{"version":2,"tables":1}` + "\n" + `{"table":"bogus","count":0}`, `table "bogus"`},
		"garbage":         {"garbage", "decode snapshot header"},
	}
	for name, tc := range cases {
		b := NewFSM(nil, 0)
		mustApply(t, b, RegisterNodeCmd(reg("kept"), t0))
		before := b.State().Hash()
		err := restore(b, []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
		if b.State().Hash() != before {
			t.Errorf("%s: a failed restore changed the state", name)
		}
	}
}
