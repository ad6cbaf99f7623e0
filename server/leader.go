package server

import (
	"context"
	"sync"
	"time"

	"github.com/keelson/keelson/internal/backoff"
	"github.com/keelson/keelson/raftstore"
)

// leadershipLoop starts the leader's duties when this server gains leadership and
// stops them when it loses it.
func (s *Server) leadershipLoop(ctx context.Context) {
	for {
		leader, changed := s.store.LeaderWatch()
		var (
			cancel context.CancelFunc
			done   chan struct{}
		)
		if leader {
			var lctx context.Context
			lctx, cancel = context.WithCancel(ctx)
			done = make(chan struct{})
			go func() {
				defer close(done)
				s.lead(lctx)
			}()
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
		if cancel != nil {
			cancel()
			<-done
			s.logger.Info("leader duties stopped")
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// lead runs the leader's duties until ctx ends. The Barrier comes first: a new leader
// may not have applied everything its predecessor committed, and acting on a stale
// state (re-placing pods that were already placed) would be wrong.
func (s *Server) lead(ctx context.Context) {
	s.metrics.isLeader.Set(1)
	defer s.metrics.isLeader.Set(0)
	for {
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.store.Barrier(bctx)
		cancel()
		if err == nil {
			break
		}
		s.logger.Warn("barrier after gaining leadership", "err", err)
		if !backoff.Sleep(ctx, clusterRetry) {
			return
		}
	}
	s.hb.reset(time.Now().UTC())
	s.logger.Info("leader duties started", "index", s.store.AppliedIndex())

	if s.cfg.HTTPAdvertise != "" && !s.registered() {
		actx, cancel := context.WithTimeout(ctx, applyTimeout)
		if _, err := s.apply(actx, raftstore.RegisterServerCmd(raftstore.ServerRecord{
			ID: s.cfg.ID, RaftAddr: s.store.RaftAddr(), HTTPAddr: s.cfg.HTTPAdvertise,
		})); err != nil {
			s.logger.Warn("record own address", "err", err)
		}
		cancel()
	}

	var wg sync.WaitGroup
	if s.deps.NewSource != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.runSource(ctx) }()
	}
	if s.deps.Planner != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.reconcileLoop(ctx) }()
	}
	wg.Wait()
}
