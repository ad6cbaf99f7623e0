package raftstore

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/keelson/keelson/api"
)

// AddVoter adds (or re-addresses) a voting server. Leader only.
func (s *Store) AddVoter(id, addr string) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	if err := s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 30*time.Second).Error(); err != nil {
		return fmt.Errorf("add voter %s at %s: %w", id, addr, err)
	}
	return nil
}

// RemoveServer removes a server from the raft configuration. Leader only.
func (s *Store) RemoveServer(id string) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, 30*time.Second).Error(); err != nil {
		return fmt.Errorf("remove server %s: %w", id, err)
	}
	return nil
}

// Servers lists the raft configuration, with HTTP addresses from the servers table.
func (s *Store) Servers() ([]api.ServerInfo, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	http := map[string]string{}
	for _, r := range s.Snapshot().ServerRecords() {
		http[r.ID] = r.HTTPAddr
	}
	_, leaderID := s.raft.LeaderWithID()
	var out []api.ServerInfo
	for _, sv := range f.Configuration().Servers {
		out = append(out, api.ServerInfo{
			ID: string(sv.ID), RaftAddr: string(sv.Address), HTTPAddr: http[string(sv.ID)],
			Leader: sv.ID == leaderID, Voter: sv.Suffrage == raft.Voter,
		})
	}
	return out, nil
}

// BootstrapPeers starts a new cluster on a running store that has no raft state, with
// the given voters (bootstrap-expect: every member may call it with the same list).
func (s *Store) BootstrapPeers(peers []Peer) error {
	var servers []raft.Server
	for _, p := range peers {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	if err := s.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		return fmt.Errorf("bootstrap cluster: %w", err)
	}
	return nil
}

// HasState reports whether this server has ever been part of a cluster (it has a
// raft log or snapshot), so it must not bootstrap again.
func (s *Store) HasState() bool { return s.raft.LastIndex() > 0 }
