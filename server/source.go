package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
)

// sourceStatusEvery is how often the leader copies the Git source's condition into
// the replicated state (only when it changed).
const sourceStatusEvery = 5 * time.Second

// runSource runs the Git source while this server leads. Each delivered head becomes
// the last good revision when valid, or a refused revision (with every error) when
// not, in which case the last good one stays applied.
func (s *Server) runSource(ctx context.Context) {
	src, err := s.deps.NewSource()
	if err != nil {
		s.logger.Error("start git source", "err", err)
		s.recordSourceError(ctx, err)
		return
	}
	s.srcMu.Lock()
	s.source = src
	s.srcMu.Unlock()
	defer func() {
		s.srcMu.Lock()
		s.source = nil
		s.srcMu.Unlock()
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		deliver := func(rev api.Revision) {
			s.deliver(ctx, rev)
			// Record the source condition with the revision, not only on the timer, so
			// `keelson status` never shows a fresh commit next to a stale condition.
			s.syncSourceStatus(ctx, src.Status())
		}
		if err := src.Run(ctx, deliver); err != nil && ctx.Err() == nil {
			s.logger.Error("git source stopped", "err", err)
		}
	}()
	t := time.NewTicker(sourceStatusEvery)
	defer t.Stop()
	for {
		s.syncSourceStatus(ctx, src.Status())
		select {
		case <-ctx.Done():
			<-done
			return
		case <-done:
			return
		case <-t.C:
		}
	}
}

func (s *Server) deliver(ctx context.Context, rev api.Revision) {
	st := s.store.Snapshot()
	var cmd raftstore.Command
	if rev.Valid() {
		if cur := st.Revision(); cur != nil && cur.Commit == rev.Commit {
			return
		}
		cmd = raftstore.SetRevisionCmd(rev)
	} else {
		if ref := st.Refused(); ref != nil && ref.Commit == rev.Commit {
			return
		}
		cmd = raftstore.RefuseRevisionCmd(api.RefusedRevision{
			Commit: rev.Commit, Author: rev.Author, Message: rev.Message, Time: rev.Time,
			Errors: rev.Errors, Reason: fmt.Sprintf("%d error(s) in the desired state", len(rev.Errors)),
		})
	}
	actx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	if _, err := s.apply(actx, cmd); err != nil {
		s.logger.Error("record revision", "commit", rev.Commit, "valid", rev.Valid(), "err", err)
		return
	}
	s.logger.Info("revision recorded", "commit", rev.Commit, "valid", rev.Valid(), "errors", len(rev.Errors))
}

// syncSourceStatus replicates the source condition when it changed (ignoring the
// check time, which changes on every poll and would cost a raft entry each time).
func (s *Server) syncSourceStatus(ctx context.Context, cur api.SourceStatus) {
	old := s.store.Snapshot().Source()
	a, b := old, cur
	a.CheckedAt, b.CheckedAt = time.Time{}, time.Time{}
	if a == b {
		return
	}
	actx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	if _, err := s.apply(actx, raftstore.SetSourceStatusCmd(cur)); err != nil {
		s.logger.Warn("record source status", "err", err)
	}
}

func (s *Server) recordSourceError(ctx context.Context, err error) {
	s.syncSourceStatus(ctx, api.SourceStatus{Healthy: false, Message: err.Error(), CheckedAt: time.Now().UTC()})
}

// triggerSource asks the leader's Git source to fetch now; a no-op elsewhere.
func (s *Server) triggerSource() {
	s.srcMu.Lock()
	src := s.source
	s.srcMu.Unlock()
	if src != nil {
		src.Trigger()
	}
}

// handleGitHook hands the webhook to the wired handler (which checks the HMAC and
// calls triggerSource). A follower forwards it: only the leader runs the source.
func (s *Server) handleGitHook(w http.ResponseWriter, r *http.Request) {
	if s.hook == nil {
		writeError(w, http.StatusNotFound, "no webhook configured")
		return
	}
	if !s.store.IsLeader() {
		s.forwardToLeader(w, r)
		return
	}
	s.hook.ServeHTTP(w, r)
}
