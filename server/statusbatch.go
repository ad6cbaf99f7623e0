package server

import (
	"context"
	"sync"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
)

// maxReportsPerEntry bounds one raft entry of merged status reports.
const maxReportsPerEntry = 5000

// reportCommitter merges the pod status reports of many agents into one raft entry
// (group commit). With thousands of nodes each agent's batch holds a pod or two, and
// one fsync per agent would cap how fast pods become Running; merged, one entry
// carries everything that arrived while the previous entry was committing. It adds no
// delay when idle: the first caller commits at once. There is no goroutine of its own:
// a caller that finds no commit in progress becomes the committer and keeps committing
// until the queue is empty.
type reportCommitter struct {
	apply func(context.Context, raftstore.Command) (uint64, error)

	mu         sync.Mutex
	pending    []*statusReq
	committing bool
}

type statusReq struct {
	reports []api.PodStatusReport
	done    chan statusResult // buffered: the committer never blocks on a gone caller
}

type statusResult struct {
	index uint64
	err   error
}

// submit commits reports (with whatever else is queued) and returns the raft index of
// the entry that carried them.
func (b *reportCommitter) submit(ctx context.Context, reports []api.PodStatusReport) (uint64, error) {
	req := &statusReq{reports: reports, done: make(chan statusResult, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, req)
	if !b.committing {
		b.committing = true
		b.commitLoop() // unlocks b.mu
	} else {
		b.mu.Unlock()
	}
	select {
	case r := <-req.done:
		return r.index, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// commitLoop runs with b.mu held and returns with it released, once the queue is empty.
func (b *reportCommitter) commitLoop() {
	for len(b.pending) > 0 {
		var batch []*statusReq
		var all []api.PodStatusReport
		for len(b.pending) > 0 && (len(all) == 0 || len(all)+len(b.pending[0].reports) <= maxReportsPerEntry) {
			batch = append(batch, b.pending[0])
			all = append(all, b.pending[0].reports...)
			b.pending = b.pending[1:]
		}
		b.mu.Unlock()
		// The entry serves many requests: no single caller's cancellation may abort it.
		ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
		idx, err := b.apply(ctx, raftstore.ReportPodStatusCmd(all))
		cancel()
		for _, r := range batch {
			r.done <- statusResult{idx, err}
		}
		b.mu.Lock()
	}
	b.pending = nil
	b.committing = false
	b.mu.Unlock()
}
