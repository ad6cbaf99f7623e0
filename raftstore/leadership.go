package raftstore

import "github.com/hashicorp/raft"

// watchLeadership turns raft's notify channel (which raft blocks on) into a
// broadcast any number of goroutines can wait on without dropping transitions.
func (s *Store) watchLeadership() {
	defer s.wg.Done()
	for {
		select {
		case v := <-s.notifyCh:
			s.lmu.Lock()
			if v != s.isLeader {
				s.isLeader = v
				close(s.leaderChanged)
				s.leaderChanged = make(chan struct{})
			}
			s.lmu.Unlock()
			s.logger.Info("raft leadership changed", "id", s.id, "leader", v)
		case <-s.done:
			return
		}
	}
}

// LeaderWatch returns whether this server is the leader and a channel closed at the
// next change. Loop: `for { l, ch := s.LeaderWatch(); ...; <-ch }`.
func (s *Store) LeaderWatch() (bool, <-chan struct{}) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return s.isLeader, s.leaderChanged
}

// IsLeader reports whether raft considers this server the leader right now.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the leader's raft address and ID ("" when unknown).
func (s *Store) Leader() (addr, id string) {
	a, i := s.raft.LeaderWithID()
	return string(a), string(i)
}
