package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
)

// defaultWait is a blocking query's wait when ?index is given without ?wait.
const defaultWait = time.Minute

// indexOf picks the raft index a response depends on.
type indexOf func(*raftstore.State) uint64

func globalIndex(st *raftstore.State) uint64 { return st.Index() }

func tableIndex(names ...string) indexOf {
	return func(st *raftstore.State) uint64 {
		var m uint64
		for _, n := range names {
			m = max(m, st.TableIndex(n))
		}
		return m
	}
}

// query implements the read protocol shared by every read endpoint:
//   - ?consistent: answered by the leader once a quorum confirms it still leads
//     (raftstore.ConsistentRead: no log write; a follower forwards);
//   - ?index=N&wait=D: block until what this response depends on changed after N, or
//     D (capped at Config.MaxWait) elapsed; then answer with the current state.
//
// It sets IndexHeader and returns the state to render, or false when it already
// answered (error or forwarded).
func (s *Server) query(w http.ResponseWriter, r *http.Request, relevant indexOf) (*raftstore.State, bool) {
	q := r.URL.Query()
	if q.Has("consistent") {
		if !s.store.IsLeader() {
			s.forwardToLeader(w, r)
			return nil, false
		}
		if err := s.store.ConsistentRead(r.Context()); err != nil {
			writeApplyError(w, err)
			return nil, false
		}
	}
	var after uint64
	if v := q.Get("index"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad index: "+err.Error())
			return nil, false
		}
		after = n
	}
	wait := defaultWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "bad wait: want a duration like 30s")
			return nil, false
		}
		wait = d
	}
	wait = min(wait, s.cfg.MaxWait)

	st := s.store.Snapshot()
	if after > 0 && relevant(st) <= after {
		release, err := s.blocking.acquire(clientOf(r))
		if err != nil {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, err.Error())
			return nil, false
		}
		defer release()
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		for relevant(st) <= after {
			// Every apply wakes us; we answer only when our slice changed.
			if _, err := s.store.WaitIndex(ctx, st.Index()); err != nil {
				break
			}
			st = s.store.Snapshot()
		}
		cancel()
	}
	w.Header().Set(api.IndexHeader, strconv.FormatUint(max(relevant(st), 1), 10))
	w.Header().Set(api.LeaderHeader, strconv.FormatBool(s.store.IsLeader()))
	return st, true
}
