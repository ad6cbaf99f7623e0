package raftstore

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// BenchmarkFSMApply100kPods measures one replica applying the batch that places
// 100,000 pods (100 templates) on 5,000 nodes: decode, spec sharing, inserts and the
// per-node index entries, without raft or disk.
func BenchmarkFSMApply100kPods(b *testing.B) {
	var c api.Changes
	for i := range 100_000 {
		owner := fmt.Sprintf("ReplicationController/default/app%03d", i%100)
		c.UpsertPods = append(c.UpsertPods, api.PodRecord{
			UID: fmt.Sprintf("uid-%08d", i), Namespace: "default", Name: fmt.Sprintf("app%03d-%05d", i%100, i),
			Owner: owner, SpecHash: "h1", Node: fmt.Sprintf("n%05d", i%5000), Desire: api.DesireRun,
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: owner + ":v1"}}},
		})
	}
	data, err := Command{Type: ApplyChangesType, Body: ApplyChangesRequest{Changes: c}}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f := NewFSM(nil, 0)
		if err, _ := f.Apply(&raft.Log{Index: 1, Data: data}).(error); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.UpsertPods))*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}
