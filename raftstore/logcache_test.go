package raftstore

import (
	"bytes"
	"testing"

	"github.com/hashicorp/raft"
)

func TestLogCacheBoundsBytes(t *testing.T) {
	mem := raft.NewInmemStore()
	c := newLogCache(mem, 4, 100)
	entry := func(i uint64, size int) *raft.Log {
		return &raft.Log{Index: i, Data: bytes.Repeat([]byte{byte(i)}, size)}
	}
	for i := uint64(1); i <= 6; i++ {
		if err := c.StoreLogs([]*raft.Log{entry(i, 40)}); err != nil {
			t.Fatal(err)
		}
	}
	// 40-byte entries under a 100-byte budget: the newest two stay cached.
	if c.lo != 5 || len(c.logs) != 2 || c.bytes != 80 {
		t.Fatalf("cache holds [%d, +%d) with %d bytes, want [5, +2) with 80", c.lo, len(c.logs), c.bytes)
	}
	// Evicted entries are still read from the store, cached ones from memory.
	for i := uint64(1); i <= 6; i++ {
		var l raft.Log
		if err := c.GetLog(i, &l); err != nil || l.Index != i || len(l.Data) != 40 || l.Data[0] != byte(i) {
			t.Fatalf("GetLog(%d) = %+v, %v", i, l, err)
		}
	}
	// A gap (a follower's log truncated and rewritten) restarts the cache.
	if err := c.DeleteRange(5, 6); err != nil {
		t.Fatal(err)
	}
	if len(c.logs) != 0 {
		t.Fatal("DeleteRange left entries cached")
	}
	if err := c.StoreLogs([]*raft.Log{entry(5, 300)}); err != nil {
		t.Fatal(err)
	}
	// One entry over the budget is kept alone (it is the newest).
	if c.lo != 5 || len(c.logs) != 1 {
		t.Fatalf("cache holds [%d, +%d), want [5, +1)", c.lo, len(c.logs))
	}
	if last, _ := c.LastIndex(); last != 5 {
		t.Fatalf("LastIndex = %d", last)
	}
}
