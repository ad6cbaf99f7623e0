package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/reconciler"
)

// logCapture records log messages.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }
func (l *logCapture) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

// TestReconcileBacksOff: a planner that never converges (it emits the same change
// after every apply) makes the loop back off instead of spinning on raft.
func TestReconcileBacksOff(t *testing.T) {
	logs := &logCapture{}
	s := newTestCluster(t, clusterOpts{deps: func(int) Deps {
		return Deps{Logger: slog.New(logs), Planner: func(in reconciler.Observed) reconciler.Result {
			return reconciler.Result{Changes: api.Changes{Status: &api.ClusterStatus{Sync: api.OutOfSync}}}
		}}
	}})
	leaderOf(t, s)
	waitFor(t, 20*time.Second, "the reconciler to back off", func() bool { return logs.has("backing off") })
}
