package raftstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

// After the first consistent read of a term, consistent reads append nothing to the
// log; a follower is told it is not the leader; a write acknowledged before a read is
// visible to it.
func TestConsistentReadWithoutLogWrite(t *testing.T) {
	c := newInmemCluster(t, 3)
	l := leaderOf(t, c.stores)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.ConsistentRead(ctx); err != nil {
		t.Fatal(err)
	}
	before := l.raft.LastIndex()
	for range 50 {
		if err := l.ConsistentRead(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if after := l.raft.LastIndex(); after != before {
		t.Fatalf("50 consistent reads moved the log from %d to %d", before, after)
	}
	for _, f := range others(c.stores, l) {
		if err := f.ConsistentRead(ctx); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("consistent read on a follower: %v, want ErrNotLeader", err)
		}
	}
	acked, _ := writeNodes(t, []*Store{l}, "n", 3)
	if err := l.ConsistentRead(ctx); err != nil {
		t.Fatal(err)
	}
	requireNodes(t, l, acked)
}

// BenchmarkConsistentRead compares what a ?consistent read cost before (a Barrier: one
// log entry, fsync on a quorum) with ConsistentRead (one heartbeat round), on 3
// servers over loopback TCP with fsync on.
func BenchmarkConsistentRead(b *testing.B) {
	stores := tcpCluster(b, b.TempDir(), 3, false)
	l := benchLeader(b, stores)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		read func(context.Context) error
	}{{"barrier", l.Barrier}, {"verify-leader", l.ConsistentRead}} {
		b.Run(tc.name, func(b *testing.B) {
			start := l.raft.LastIndex()
			for range b.N {
				if err := tc.read(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(l.raft.LastIndex()-start)/float64(b.N), "log-entries/op")
		})
	}
}
