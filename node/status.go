package node

import (
	"context"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/keelson/keelson/api"
)

// statusReporter collects the pod workers' status reports and sends only the ones that
// changed since they were last delivered, at most once per interval, in one call. (The
// server's statusBatcher is the other end: it group-commits many agents' reports.) A
// failed send keeps the reports for the next tick (unless a newer one replaced them),
// so a report is never lost while servers are unreachable, and a burst of changes to
// one pod costs one report.
type statusReporter struct {
	mu      sync.Mutex
	pending map[string]api.PodStatusReport // by UID: the newest undelivered report
	sent    map[string]api.PodStatusReport // by UID: the last delivered report
}

func newStatusReporter() *statusReporter {
	return &statusReporter{pending: map[string]api.PodStatusReport{}, sent: map[string]api.PodStatusReport{}}
}

// set records the newest report of a pod; a report equal to the delivered one (apart
// from its observation time) is dropped.
func (b *statusReporter) set(r api.PodStatusReport) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if last, ok := b.sent[r.UID]; ok && sameReport(last, r) {
		delete(b.pending, r.UID)
		return
	}
	b.pending[r.UID] = r
}

func sameReport(a, b api.PodStatusReport) bool {
	a.Status.ObservedAt, b.Status.ObservedAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// take removes and returns the pending reports, ordered by UID.
func (b *statusReporter) take() []api.PodStatusReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil
	}
	out := make([]api.PodStatusReport, 0, len(b.pending))
	for _, r := range b.pending {
		out = append(out, r)
	}
	clear(b.pending)
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// done records the outcome of sending batch.
func (b *statusReporter) done(batch []api.PodStatusReport, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range batch {
		if err != nil {
			if _, newer := b.pending[r.UID]; !newer {
				b.pending[r.UID] = r
			}
			continue
		}
		if r.Gone {
			delete(b.sent, r.UID) // the pod is finished; nothing more will be said of it
		} else {
			b.sent[r.UID] = r
		}
	}
}

func (b *statusReporter) flush(ctx context.Context, cp ControlPlane, log *slog.Logger) {
	batch := b.take()
	if len(batch) == 0 {
		return
	}
	err := cp.ReportStatus(ctx, batch)
	if err != nil && ctx.Err() == nil {
		log.Warn("status report failed; will retry", "pods", len(batch), "err", err)
	}
	b.done(batch, err)
}

func (b *statusReporter) run(ctx context.Context, interval time.Duration, cp ControlPlane, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.flush(ctx, cp, log)
		}
	}
}
