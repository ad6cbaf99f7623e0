package server

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
)

// pki.ServerFiles.RemovedNodes (<data-dir>/removed-nodes) lists decommissioned
// nodes, one name per line ('#' comments). The leader deletes each listed node's record once the node is
// Down (its agent stopped, its pods already replaced elsewhere), with the pod records
// still assigned to it: its pod CIDR is free again and its name may be registered by
// a new key. A listed node that is still up is left alone (its agent would only
// register again), so removing is: stop the agent, add its name, wait.
// decommissionLoop applies RemovedNodesFile while this server leads.
func (s *Server) decommissionLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.store.IsLeader() || s.cfg.DataDir == "" {
			continue
		}
		if err := s.removeNodes(ctx); err != nil {
			s.logger.Warn("remove decommissioned nodes", "err", err)
		}
	}
}

func (s *Server) removeNodes(ctx context.Context) error {
	b, err := os.ReadFile(pki.ServerFiles{DataDir: s.cfg.DataDir}.RemovedNodes())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st := s.store.Snapshot()
	var c api.Changes
	for _, line := range strings.Split(string(b), "\n") {
		name := strings.TrimSpace(line)
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		if n, ok := st.Node(name); !ok || n.Status != api.NodeDown {
			continue
		}
		c.DeleteNodes = append(c.DeleteNodes, name)
		for _, p := range st.PodsOnNode(name) {
			c.DeletePods = append(c.DeletePods, p.UID)
		}
	}
	if c.Empty() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	if _, err := s.apply(ctx, raftstore.ApplyChangesCmd(c)); err != nil {
		return err
	}
	s.logger.Info("decommissioned nodes removed", "nodes", c.DeleteNodes, "pods", len(c.DeletePods))
	return nil
}
