package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
)

// clusterRetry is how often membership work is retried while it cannot make progress.
const clusterRetry = time.Second

// handleJoin adds a server as a raft voter and records its addresses. Followers
// forward to the leader. Idempotent: joining again with the same addresses is a no-op.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var j api.ServerJoin
	if !decodeBody(w, r, &j) {
		return
	}
	if j.ID == "" || j.RaftAddr == "" {
		writeError(w, http.StatusBadRequest, "join needs id and raftAddr")
		return
	}
	// A server joins only as itself: its certificate's name is the raft ID it gets,
	// so no member can claim another's ID (and re-point its HTTP address).
	if id, _ := callerOf(r.Context()); id.Name != j.ID {
		writeError(w, http.StatusForbidden, "server "+id.Name+" may not join as "+j.ID)
		return
	}
	servers, err := s.store.Servers()
	if err != nil {
		writeApplyError(w, err)
		return
	}
	member := slices.ContainsFunc(servers, func(si api.ServerInfo) bool {
		return si.ID == j.ID && si.RaftAddr == j.RaftAddr && si.Voter
	})
	// ?refresh only updates the addresses of a current member: a server that was
	// removed (leave) must not re-add itself by refreshing its record.
	if r.URL.Query().Has("refresh") && !member {
		writeError(w, http.StatusConflict, "server "+j.ID+" is not a member of the cluster")
		return
	}
	if err := s.join(r.Context(), j, member); err != nil {
		writeApplyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) join(ctx context.Context, j api.ServerJoin, member bool) error {
	if !member {
		if err := s.store.AddVoter(j.ID, j.RaftAddr); err != nil {
			return err
		}
		s.logger.Info("server joined", "id", j.ID, "raft", j.RaftAddr, "http", j.HTTPAddr)
	}
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	_, err := s.apply(ctx, raftstore.RegisterServerCmd(raftstore.ServerRecord{ID: j.ID, RaftAddr: j.RaftAddr, HTTPAddr: j.HTTPAddr}))
	return err
}

// handleLeave removes a server from raft membership.
func (s *Server) handleLeave(w http.ResponseWriter, r *http.Request) {
	var j api.ServerJoin
	if !decodeBody(w, r, &j) {
		return
	}
	// The record goes first: removing the leader itself ends its ability to write.
	ctx, cancel := context.WithTimeout(r.Context(), applyTimeout)
	defer cancel()
	if _, err := s.apply(ctx, raftstore.RemoveServerCmd(j.ID)); err != nil {
		writeApplyError(w, err)
		return
	}
	if err := s.store.RemoveServer(j.ID); err != nil {
		writeApplyError(w, err)
		return
	}
	s.logger.Info("server left", "id", j.ID)
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) self() api.ServerJoin {
	return api.ServerJoin{ID: s.cfg.ID, RaftAddr: s.store.RaftAddr(), HTTPAddr: s.cfg.HTTPAdvertise}
}

// formCluster gets a server without raft state into a cluster: --join asks a member
// to add it; --bootstrap-expect waits until the expected servers see each other and
// then bootstraps all of them with one voter list (hashicorp/raft allows every member
// to bootstrap with the identical configuration). --bootstrap was done at Open.
func (s *Server) formCluster(ctx context.Context) {
	if s.store.HasState() || (len(s.cfg.Join) == 0 && s.cfg.BootstrapExpect != 1) {
		return
	}
	for {
		var err error
		if s.cfg.BootstrapExpect > 0 {
			err = s.bootstrapExpect(ctx)
		} else {
			err = s.joinAny(ctx)
		}
		if err == nil {
			return
		}
		s.logger.Info("waiting to form cluster", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(clusterRetry):
		}
		if s.store.HasState() {
			return // someone added us meanwhile
		}
	}
}

func (s *Server) joinAny(ctx context.Context) error {
	var errs []string
	for _, addr := range s.cfg.Join {
		if err := s.post(ctx, strings.TrimRight(addr, "/")+api.PathServerJoin, s.self()); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		s.logger.Info("joined cluster", "via", addr)
		return nil
	}
	return fmt.Errorf("join: %s", strings.Join(errs, "; "))
}

func (s *Server) bootstrapExpect(ctx context.Context) error {
	peers := map[string]raftstore.Peer{s.cfg.ID: {ID: s.cfg.ID, Addr: s.store.RaftAddr()}}
	for _, addr := range s.cfg.Join {
		var h HealthResponse
		if err := s.get(ctx, strings.TrimRight(addr, "/")+api.PathHealth, &h); err != nil {
			continue
		}
		if h.LeaderID != "" {
			// A cluster already exists (we are a replacement): join it instead.
			return s.joinAny(ctx)
		}
		peers[h.ID] = raftstore.Peer{ID: h.ID, Addr: h.RaftAddr}
	}
	if len(peers) < s.cfg.BootstrapExpect {
		return fmt.Errorf("bootstrap-expect %d: %d servers known", s.cfg.BootstrapExpect, len(peers))
	}
	var list []raftstore.Peer
	for _, p := range peers {
		list = append(list, p)
	}
	slices.SortFunc(list, func(a, b raftstore.Peer) int { return strings.Compare(a.ID, b.ID) })
	s.logger.Info("bootstrapping cluster", "servers", list)
	return s.store.BootstrapPeers(list)
}

// registerSelfLoop keeps this server's HTTP address in the replicated servers table,
// which followers need to forward writes to the leader. The leader writes its own
// entry when it takes office; a follower asks the leader through the join endpoint.
func (s *Server) registerSelfLoop(ctx context.Context) {
	if s.cfg.HTTPAdvertise == "" {
		return
	}
	for {
		if !s.store.IsLeader() && !s.registered() {
			if base, err := s.leaderURL(); err == nil {
				if err := s.post(ctx, base+api.PathServerJoin+"?refresh", s.self()); err != nil {
					s.logger.Debug("register with leader", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * clusterRetry):
		}
	}
}

func (s *Server) registered() bool {
	me := s.self()
	for _, r := range s.store.Snapshot().ServerRecords() {
		if r.ID == me.ID {
			return r.HTTPAddr == me.HTTPAddr && r.RaftAddr == me.RaftAddr
		}
	}
	return false
}

// post sends a JSON body (this server's certificate authenticates it) and expects 2xx.
func (s *Server) post(ctx context.Context, url string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer drain(resp.Body)
	if resp.StatusCode/100 != 2 {
		var e api.ErrorResponse
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, e.Error)
	}
	return nil
}

func (s *Server) get(ctx context.Context, url string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer drain(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
