package raftstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// readiness remembers the term in which this server, as leader, completed a Barrier.
type readiness struct{ term atomic.Uint64 }

// ConsistentRead makes the next read of this server's state linearizable without
// appending to the raft log (the read-index scheme of the Raft thesis §6.4, as Consul
// does it): VerifyLeader confirms with a quorum that this server is still the leader,
// so no other leader can have committed anything it lacks. A new leader's FSM may
// still miss entries its predecessor committed until an entry of its own term is
// applied, so the first consistent read of a term (unless the leader loop already did
// one) runs one Barrier; every later one in that term writes nothing.
//
// An entry acknowledged to a writer is applied to the leader's FSM before the
// acknowledgement, so a read after it sees it.
func (s *Store) ConsistentRead(ctx context.Context) error {
	if err := s.raft.VerifyLeader().Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return ErrNotLeader
		}
		return fmt.Errorf("raft verify leader: %w", err)
	}
	term := s.raft.CurrentTerm()
	if s.ready.term.Load() == term {
		return nil
	}
	if err := s.Barrier(ctx); err != nil {
		return err
	}
	s.ready.term.Store(term)
	return nil
}
