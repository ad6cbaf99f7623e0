package raftstore

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/keelson/keelson/api"
)

// Shape of the scale benchmarks here, the raft side of test/bench's
// BenchmarkScheduleAtScale: 100,000 pods of 50 RCs on 5,000 nodes.
const (
	scalePods      = 100_000
	scaleOwners    = 50
	scaleNodes     = 5000
	scaleBatchPods = 1000 // pods per reconciler batch (one raft entry)
)

// scaleCommands returns the raft entries that bring one replica to the scale state
// as the product writes it: node registrations, reconciler batches of new pods (as
// Plan makes them: one spec per template, labels shared, the commit), the placements,
// then agent status reports saying Running with one container each.
//
// With direct set it writes the same final state in fewer entries: each pod once,
// placed and Running (a new UID is stored with the status it carries).
func scaleCommands(tb testing.TB, direct bool) [][]byte {
	tb.Helper()
	var cmds []Command
	for n := range scaleNodes {
		r := api.NodeRegistration{Name: fmt.Sprintf("node-%05d", n), Address: fmt.Sprintf("10.1.%d.%d", n/250, n%250+1),
			Capacity: api.Resources{MilliCPU: 64000, MemoryBytes: 256 << 30}}
		cmds = append(cmds, RegisterNodeCmd(r, t0))
	}
	specs := make([]corev1.PodSpec, scaleOwners)
	labels := make([]map[string]string, scaleOwners)
	for o := range scaleOwners {
		labels[o] = map[string]string{"app": fmt.Sprintf("app%02d", o), "tier": "web"}
		specs[o] = corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: fmt.Sprintf("registry.local:5000/app%02d:v1", o),
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}},
		}}}
	}
	commit := "3f786850e387550fdab836ed7e6dc881de23001b"
	uid := func(i int) string { return fmt.Sprintf("6d3c1f0e-%04x-4a5b-9c8d-%012x", i%0xffff, i) }
	podNode := func(i int) string { return fmt.Sprintf("node-%05d", i%scaleNodes) }
	status := func(i int) api.PodStatus {
		return api.PodStatus{
			Phase: corev1.PodRunning, Ready: true, PodIP: fmt.Sprintf("10.%d.%d.%d", 2+i/65536, i/256%256, i%256),
			StartedAt: t0.Add(time.Second), ObservedAt: t0.Add(2 * time.Second),
			Containers: []api.ContainerStatus{{
				Name: "web", Image: fmt.Sprintf("registry.local:5000/app%02d:v1", i%scaleOwners),
				ContainerID: uid(i) + "_web_0", State: api.ContainerRunning, StartedAt: t0.Add(time.Second), Ready: true,
			}},
		}
	}
	var created, placed []api.PodRecord
	for i := range scalePods {
		o := i % scaleOwners
		p := api.PodRecord{
			UID: uid(i), Namespace: "default", Name: fmt.Sprintf("app%02d-%05x", o, i),
			Owner: fmt.Sprintf("ReplicationController/default/app%02d", o), Labels: labels[o],
			Spec: specs[o], SpecHash: fmt.Sprintf("%016x", o*7919), Commit: commit,
			Desire: api.DesireRun, CreatedAt: t0, Status: api.PodStatus{Phase: corev1.PodPending},
		}
		created = append(created, p)
		p.Node = podNode(i)
		if direct {
			p.Status = status(i)
			created = nil
		}
		placed = append(placed, p)
		if direct && len(placed) == scaleBatchPods {
			cmds = append(cmds, ApplyChangesCmd(api.Changes{UpsertPods: placed}))
			placed = nil
		}
		if len(created) == scaleBatchPods {
			cmds = append(cmds, ApplyChangesCmd(api.Changes{UpsertPods: created}), ApplyChangesCmd(api.Changes{UpsertPods: placed}))
			created, placed = nil, nil
		}
	}
	var reports []api.PodStatusReport
	for i := range scalePods {
		if direct {
			break
		}
		reports = append(reports, api.PodStatusReport{UID: uid(i), Node: podNode(i), Status: status(i)})
		if len(reports) == scaleBatchPods {
			cmds = append(cmds, ReportPodStatusCmd(reports))
			reports = nil
		}
	}
	out := make([][]byte, len(cmds))
	for i, c := range cmds {
		data, err := c.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = data
	}
	return out
}

// loadScale applies the scale entries to a fresh FSM, in raft batches of 64 entries
// (MaxAppendEntries' default) when the FSM batches.
func loadScale(tb testing.TB, entries [][]byte) *FSM {
	tb.Helper()
	f := NewFSM(nil, 0)
	for i, data := range entries {
		if err, _ := f.Apply(&raft.Log{Index: uint64(i + 1), Data: data}).(error); err != nil {
			tb.Fatal(err)
		}
	}
	return f
}

// liveHeap returns the live heap after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkReplicaHeap100kPods measures the live heap one replica's state holds at
// 100,000 Running pods on 5,000 nodes (runtime.ReadMemStats after GC, the entries
// themselves not counted): the FSM's share of the per-server heap in
// BenchmarkScheduleAtScale.
func BenchmarkReplicaHeap100kPods(b *testing.B) {
	entries := scaleCommands(b, false)
	b.ResetTimer()
	var per uint64
	for b.Loop() {
		base := liveHeap()
		f := loadScale(b, entries)
		after := liveHeap()
		per = after - min(base, after)
		writeHeapProfile(b)
		runtime.KeepAlive(f)
	}
	b.ReportMetric(float64(per)/(1<<20), "MB-heap/replica")
	b.ReportMetric(float64(per)/scalePods, "B/pod")
}

// writeHeapProfile writes the live heap to $KEELSON_HEAP_PROFILE, if set, while the
// state is still alive (-memprofile is written after the benchmark has dropped it).
func writeHeapProfile(tb testing.TB) {
	path := os.Getenv("KEELSON_HEAP_PROFILE")
	if path == "" {
		return
	}
	fh, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	if err := pprof.Lookup("heap").WriteTo(fh, 0); err != nil {
		tb.Fatal(err)
	}
}
