package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/keelson/keelson/raftstore"
)

// forwardedHeader marks a request already forwarded once, so two servers that
// disagree about the leader cannot bounce a request between them forever.
const forwardedHeader = "X-Keelson-Forwarded-By"

var errNoLeader = errors.New("no raft leader is known (election in progress or no quorum)")

// leaderURL returns the leader's HTTP address from the replicated servers table.
func (s *Server) leaderURL() (string, error) {
	_, id := s.store.Leader()
	if id == "" {
		return "", errNoLeader
	}
	for _, rec := range s.store.Snapshot().ServerRecords() {
		if rec.ID == id && rec.HTTPAddr != "" {
			return rec.HTTPAddr, nil
		}
	}
	return "", fmt.Errorf("leader %s has not registered its HTTP address yet", id)
}

// onLeader runs a write handler on the leader and forwards the request there from any
// other server, so every write endpoint behaves the same.
func (s *Server) onLeader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.store.IsLeader() {
			s.forwardToLeader(w, r)
			return
		}
		h(w, r)
	}
}

// forwardToLeader proxies the request to the leader and streams its answer back.
func (s *Server) forwardToLeader(w http.ResponseWriter, r *http.Request) {
	if by := r.Header.Get(forwardedHeader); by != "" {
		writeError(w, http.StatusServiceUnavailable, "not the leader (request already forwarded by "+by+")")
		return
	}
	base, err := s.leaderURL()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), r.Body)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "build forwarded request: "+err.Error())
		return
	}
	req.ContentLength = r.ContentLength
	req.Header = r.Header.Clone()
	req.Header.Set(forwardedHeader, s.cfg.ID)
	// The leader sees this server's certificate; it believes the caller's identity
	// from this header (only from a server certificate).
	req.Header.Del(identityHeader)
	if id, ok := callerOf(r.Context()); ok {
		req.Header.Set(identityHeader, formatIdentity(id))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "forward to leader: "+err.Error())
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	copyFlushing(w, resp.Body)
}

// copyFlushing copies a response body, flushing after each read so streams (logs
// -f) are not held in buffers.
func copyFlushing(w http.ResponseWriter, r io.Reader) {
	f, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if f != nil {
				f.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// writeApplyError maps a store error to an HTTP answer.
func writeApplyError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, raftstore.ErrNotLeader):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, raftstore.ErrIndeterminate):
		writeError(w, http.StatusServiceUnavailable, err.Error()+" (retry: the request is idempotent)")
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
