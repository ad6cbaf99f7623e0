package raftstore

import (
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
)

// Bounds of the in-memory cache of the newest raft entries, which saves the leader a
// bolt read when it replicates them. hashicorp/raft's LogCache bounds entries by
// count only: 512 reconciler batches or merged status reports of ~1 MB each held half
// a gigabyte per server at 100,000 pods. This one bounds their bytes as well.
const (
	logCacheEntries = 512
	logCacheBytes   = 16 << 20
)

// logCache is a raft.LogStore keeping the newest contiguous entries in memory, at most
// maxEntries of them and maxBytes of their data.
type logCache struct {
	store                raft.LogStore
	maxEntries, maxBytes int

	mu    sync.RWMutex
	logs  []*raft.Log // logs[i].Index == lo+i
	lo    uint64
	bytes int
}

func newLogCache(store raft.LogStore, maxEntries, maxBytes int) *logCache {
	return &logCache{store: store, maxEntries: maxEntries, maxBytes: maxBytes}
}

// IsMonotonic forwards the store's property (raft-boltdb/v2 has none; kept for
// stores that do).
func (c *logCache) IsMonotonic() bool {
	m, ok := c.store.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (c *logCache) GetLog(idx uint64, log *raft.Log) error {
	c.mu.RLock()
	if len(c.logs) > 0 && idx >= c.lo && idx < c.lo+uint64(len(c.logs)) {
		*log = *c.logs[idx-c.lo]
		c.mu.RUnlock()
		return nil
	}
	c.mu.RUnlock()
	return c.store.GetLog(idx, log)
}

func (c *logCache) StoreLog(log *raft.Log) error { return c.StoreLogs([]*raft.Log{log}) }

func (c *logCache) StoreLogs(logs []*raft.Log) error {
	if err := c.store.StoreLogs(logs); err != nil {
		return fmt.Errorf("store raft logs: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range logs {
		if len(c.logs) > 0 && l.Index != c.lo+uint64(len(c.logs)) {
			c.reset() // not the next index: keep the cache contiguous
		}
		if len(c.logs) == 0 {
			c.lo = l.Index
		}
		c.logs = append(c.logs, l)
		c.bytes += len(l.Data)
		for len(c.logs) > 1 && (len(c.logs) > c.maxEntries || c.bytes > c.maxBytes) {
			c.bytes -= len(c.logs[0].Data)
			c.logs[0] = nil
			c.logs = c.logs[1:]
			c.lo++
		}
	}
	return nil
}

func (c *logCache) reset() {
	c.logs, c.lo, c.bytes = nil, 0, 0
}

func (c *logCache) FirstIndex() (uint64, error) { return c.store.FirstIndex() }
func (c *logCache) LastIndex() (uint64, error)  { return c.store.LastIndex() }

func (c *logCache) DeleteRange(lo, hi uint64) error {
	c.mu.Lock()
	c.reset()
	c.mu.Unlock()
	return c.store.DeleteRange(lo, hi)
}
