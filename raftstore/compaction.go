package raftstore

import (
	"errors"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Log compaction. A restarting server restores its newest snapshot and then replays
// every entry after it, so restart time is bounded by the snapshot plus the entries
// written since. hashicorp/raft triggers a snapshot by entry count
// (SnapshotThreshold) or time (SnapshotInterval); entries here range from a 60-byte
// registration to a multi-megabyte placement batch, so a count bounds nothing. The
// store therefore also snapshots once DefaultSnapshotBytes of entries were applied
// since the last snapshot, and keeps fewer trailing entries than raft's default
// 10,240 (a follower further behind gets the snapshot instead).
const (
	DefaultSnapshotBytes     = 64 << 20
	DefaultSnapshotThreshold = 4096
	DefaultTrailingLogs      = 2048
)

// snapshotTrigger counts the bytes of applied entries and signals, once per crossing
// of the threshold, that a snapshot is due.
type snapshotTrigger struct {
	threshold int64
	since     atomic.Int64
	due       chan struct{}
}

func newSnapshotTrigger(threshold int64) *snapshotTrigger {
	return &snapshotTrigger{threshold: threshold, due: make(chan struct{}, 1)}
}

func (t *snapshotTrigger) applied(n int) {
	if t == nil || t.threshold <= 0 {
		return
	}
	if t.since.Add(int64(n)) >= t.threshold {
		select {
		case t.due <- struct{}{}:
		default: // already signalled
		}
	}
}

// taken restarts the count (raft calls FSM.Snapshot at the start of every snapshot,
// whatever triggered it).
func (t *snapshotTrigger) taken() {
	if t != nil {
		t.since.Store(0)
	}
}

// compact takes a snapshot whenever the trigger says one is due.
func (s *Store) compact(t *snapshotTrigger) {
	defer s.wg.Done()
	for {
		select {
		case <-t.due:
			if t.since.Load() < t.threshold {
				continue // a snapshot was taken since the signal
			}
			err := s.raft.Snapshot().Error()
			if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
				s.logger.Warn("snapshot by log size failed", "err", err)
			}
		case <-s.done:
			return
		}
	}
}
