package server

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/backoff"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/reconciler"
)

// Spin guard: a plan that produces the same batch right after that batch was applied
// is a reconciler bug (or a fight over a field); so is an endless run of batches. Long
// runs of different batches are normal, though: 100,000 pods are placed in batches of
// MaxPodsPerBatch, and a rollout takes a batch per pod. So the loop backs off
// (exponentially, up to maxBackoff) on an identical batch or past maxStreak batches.
const (
	maxStreak  = 1000
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// reconcileLoop is level-triggered: it plans from a fresh snapshot whenever the store
// changed or the interval passed (heartbeats turning stale change nothing in the
// store), and commits each non-empty plan as one raft entry. Wake-ups that arrive
// while a plan runs coalesce into the next one.
func (s *Server) reconcileLoop(ctx context.Context) {
	var (
		streak int
		delay  = backoff.Doubling{Initial: minBackoff, Max: maxBackoff}
		last   []byte
	)
	for ctx.Err() == nil {
		st := s.store.Snapshot()
		res := s.deps.Planner(s.observe(st))
		if res.Changes.Empty() {
			streak, last = 0, nil
			delay.Reset()
			s.waitChange(ctx, st.Index(), s.cfg.ReconcileInterval)
			continue
		}
		body, _ := json.Marshal(res.Changes)
		streak++
		if streak > maxStreak || bytes.Equal(body, last) {
			d := delay.Next()
			s.logger.Warn("reconciler keeps producing changes; backing off",
				"streak", streak, "identical", bytes.Equal(body, last), "backoff", d, "actions", len(res.Actions))
			if !backoff.Sleep(ctx, d) {
				return
			}
		}
		last = body
		actx, cancel := context.WithTimeout(ctx, applyTimeout)
		idx, err := s.apply(actx, raftstore.ApplyChangesCmd(res.Changes))
		cancel()
		if err != nil {
			s.logger.Error("commit reconcile batch", "err", err, "actions", len(res.Actions))
			if !backoff.Sleep(ctx, time.Second) {
				return
			}
			continue
		}
		for _, a := range res.Actions {
			s.metrics.actions.WithLabelValues(string(a.Type)).Inc()
			s.logger.Info("reconcile", "action", a.Type, "object", a.Object, "pod", a.Pod, "node", a.Node, "msg", a.Message)
		}
		s.logger.Debug("reconcile batch committed", "index", idx, "actions", len(res.Actions))
	}
}

// observe builds the planner's input from one consistent snapshot plus the leader's
// memory (heartbeats, clock).
func (s *Server) observe(st *raftstore.State) reconciler.Observed {
	return reconciler.Observe(st, time.Now().UTC(), func(nodes []api.Node) map[string]time.Time {
		names := make([]string, len(nodes))
		for i, n := range nodes {
			names[i] = n.Name
		}
		return s.hb.view(names)
	})
}

// waitChange returns when the store applies something after idx or d passes.
func (s *Server) waitChange(ctx context.Context, idx uint64, d time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, _ = s.store.WaitIndex(wctx, idx)
}
