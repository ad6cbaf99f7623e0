package server

import (
	"context"
	"net/http"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
)

// applyTimeout bounds one write issued for an HTTP request.
const applyTimeout = 30 * time.Second

// apply commits a command, with metrics.
func (s *Server) apply(ctx context.Context, cmd raftstore.Command) (uint64, error) {
	start := time.Now()
	idx, err := s.store.Apply(ctx, cmd)
	s.metrics.observeApply(cmd.Type.String(), time.Since(start), err)
	return idx, err
}

// handleRegister creates or updates a node; the answer is the node as stored.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var reg api.NodeRegistration
	if !decodeBody(w, r, &reg) {
		return
	}
	if reg.Name == "" {
		writeError(w, http.StatusBadRequest, "node name is required")
		return
	}
	id, ok := asNode(w, r, s.store.Snapshot(), reg.Name)
	if !ok {
		return
	}
	reg.KeyHash = id.KeyHash // from the certificate, whatever the body said
	ctx, cancel := context.WithTimeout(r.Context(), applyTimeout)
	defer cancel()
	now := time.Now().UTC()
	if _, err := s.apply(ctx, raftstore.RegisterNodeCmd(reg, now)); err != nil {
		writeApplyError(w, err)
		return
	}
	n, _ := s.store.Snapshot().Node(reg.Name)
	if n.KeyHash != id.KeyHash { // another key registered the name concurrently and won
		writeError(w, http.StatusForbidden, "node "+reg.Name+" is registered with another key")
		return
	}
	s.hb.beat(reg.Name, now)
	s.logger.Info("node registered", "node", reg.Name, "address", reg.Address)
	writeJSON(w, http.StatusOK, n)
}

// handleHeartbeat records a heartbeat in the leader's memory (not in raft).
func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb api.Heartbeat
	if !decodeBody(w, r, &hb) {
		return
	}
	st := s.store.Snapshot()
	if _, ok := asNode(w, r, st, hb.Name); !ok {
		return
	}
	if _, ok := st.Node(hb.Name); !ok {
		writeError(w, http.StatusNotFound, "node "+hb.Name+" is not registered: register first")
		return
	}
	s.hb.beat(hb.Name, time.Now().UTC())
	writeJSON(w, http.StatusOK, struct{}{})
}

// handleStatusReport commits an agent's pod status batch, merged with other agents'
// batches into one raft entry (reportCommitter); the store ignores reports for pods no
// longer assigned to the reporting node (fencing).
func (s *Server) handleStatusReport(w http.ResponseWriter, r *http.Request) {
	var reports []api.PodStatusReport
	if !decodeBody(w, r, &reports) {
		return
	}
	if !checkReports(w, r, s.store.Snapshot(), reports) {
		return
	}
	if len(reports) == 0 {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), applyTimeout)
	defer cancel()
	idx, err := s.statuses.submit(ctx, reports)
	if err != nil {
		writeApplyError(w, err)
		return
	}
	w.Header().Set(api.IndexHeader, uintStr(idx))
	writeJSON(w, http.StatusOK, struct{}{})
}

// handleNodeView is the agent's watch: its pods, services, endpoints and all nodes, as
// a blocking query that wakes only when one of those changed. Any server answers.
func (s *Server) handleNodeView(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := asNode(w, r, s.store.Snapshot(), name); !ok {
		return
	}
	st, ok := s.query(w, r, func(st *raftstore.State) uint64 { return st.NodeViewIndex(name) })
	if !ok {
		return
	}
	n, found := st.Node(name)
	if !found {
		writeError(w, http.StatusNotFound, "node "+name+" is not registered")
		return
	}
	writeJSON(w, http.StatusOK, api.NodeView{
		Index: max(st.NodeViewIndex(name), 1), Node: n, Pods: st.PodsOnNode(name),
		Services: st.Services(), Endpoints: st.Endpoints(), Nodes: st.Nodes(),
		ClusterDomain: s.cfg.ClusterDomain,
	})
}
