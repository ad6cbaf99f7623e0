package server

import (
	"sync"
	"time"
)

// heartbeats is the leader's memory of when each node last checked in. It is not
// replicated: a heartbeat changes nothing durable, and writing one per node per few
// seconds through raft would cost an fsync each. A new leader starts empty and treats
// every node as having heartbeated at leadership start, so failover does not evict.
type heartbeats struct {
	mu    sync.Mutex
	start time.Time
	last  map[string]time.Time
}

func newHeartbeats() *heartbeats { return &heartbeats{last: map[string]time.Time{}} }

// reset starts a new term of leadership.
func (h *heartbeats) reset(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.start, h.last = now, map[string]time.Time{}
}

func (h *heartbeats) beat(node string, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[node] = now
}

// view returns the last heartbeat of each named node, leadership start for the silent.
func (h *heartbeats) view(nodes []string) map[string]time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]time.Time, len(nodes))
	for _, n := range nodes {
		if t, ok := h.last[n]; ok {
			out[n] = t
		} else {
			out[n] = h.start
		}
	}
	return out
}
