package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
)

// Reports that arrive while an entry is committing are merged into the next entry,
// and every caller learns the index of the entry that carried its reports.
func TestStatusBatcherMergesConcurrentReports(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var mu sync.Mutex
	var entries [][]api.PodStatusReport
	b := &reportCommitter{apply: func(_ context.Context, cmd raftstore.Command) (uint64, error) {
		req, ok := cmd.Body.(raftstore.ReportPodStatusRequest)
		if !ok {
			return 0, fmt.Errorf("unexpected command %T", cmd.Body)
		}
		reps := req.Reports
		mu.Lock()
		entries = append(entries, reps)
		n := len(entries)
		mu.Unlock()
		if n == 1 {
			entered <- struct{}{}
			<-release // hold the first entry so the others queue behind it
		}
		return uint64(n), nil
	}}

	report := func(i int) []api.PodStatusReport {
		return []api.PodStatusReport{{UID: fmt.Sprint("pod-", i), Node: "n"}}
	}
	first := make(chan uint64)
	go func() {
		idx, err := b.submit(context.Background(), report(0))
		if err != nil {
			t.Error(err)
		}
		first <- idx
	}()
	<-entered
	const queued = 20
	var wg sync.WaitGroup
	idxs := make([]uint64, queued)
	for i := range queued {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx, err := b.submit(context.Background(), report(i+1))
			if err != nil {
				t.Error(err)
			}
			idxs[i] = idx
		}()
	}
	// Wait until all queued callers are in the queue, then let the first entry finish.
	waitFor(t, 10*time.Second, "the queued reports", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.pending) == queued
	})
	close(release)
	if idx := <-first; idx != 1 {
		t.Errorf("first caller got index %d, want 1", idx)
	}
	wg.Wait()
	if len(entries) != 2 {
		t.Fatalf("%d entries committed, want 2 (one held, one merging the %d queued)", len(entries), queued)
	}
	if len(entries[1]) != queued {
		t.Errorf("second entry carried %d reports, want %d", len(entries[1]), queued)
	}
	for i, idx := range idxs {
		if idx != 2 {
			t.Errorf("queued caller %d got index %d, want 2", i, idx)
		}
	}
}
