package raftstore

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/keelson/keelson/api"
)

func encodeAll(t *testing.T, cmds []Command) []*raft.Log {
	t.Helper()
	var logs []*raft.Log
	for i, c := range cmds {
		data, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: data})
	}
	return logs
}

// A batch reaches the state, index and responses that applying its entries one by one
// gives, also when one entry is rejected (it alone has no effect) and when raft's own
// configuration entries are in it.
func TestApplyBatchIsSequential(t *testing.T) {
	cmds := sampleLog()
	rejected := 3
	cmds = append(cmds[:rejected], append([]Command{RegisterNodeCmd(api.NodeRegistration{}, t0)}, cmds[rejected:]...)...)
	for _, withReject := range []bool{false, true} {
		cs := cmds
		if !withReject {
			cs = append(append([]Command{}, cmds[:rejected]...), cmds[rejected+1:]...)
		}
		logs := encodeAll(t, cs)
		cfg := &raft.Log{Index: uint64(len(logs) + 1), Type: raft.LogConfiguration}
		seq, batch := NewFSM(nil, 0), NewFSM(nil, 0)
		var want []any
		for _, l := range logs {
			want = append(want, seq.Apply(l))
		}
		got := batch.ApplyBatch(append(logs, cfg))
		if len(got) != len(logs)+1 || got[len(logs)] != nil {
			t.Fatalf("withReject=%v: %d responses, want %d with nil for the configuration", withReject, len(got), len(logs)+1)
		}
		for i := range want {
			if (want[i] == nil) != (got[i] == nil) {
				t.Errorf("withReject=%v: entry %d: batch response %v, sequential %v", withReject, i, got[i], want[i])
			}
		}
		if withReject && got[rejected] == nil {
			t.Errorf("the rejected entry has no error")
		}
		if batch.State().Hash() != seq.State().Hash() || batch.Index() != seq.Index() {
			t.Fatalf("withReject=%v: batch state (index %d) differs from sequential (index %d)", withReject, batch.Index(), seq.Index())
		}
	}
}
