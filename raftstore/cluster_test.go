package raftstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/testenv"

	"github.com/hashicorp/raft"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Poll(t, timeout, 5*time.Millisecond, what, cond)
}

type inmemCluster struct {
	stores []*Store
	trans  []*raft.InmemTransport
}

// newInmemCluster starts n fully connected in-memory servers, all bootstrapped with the
// same configuration.
func newInmemCluster(t *testing.T, n int, tune ...func(*Config)) *inmemCluster {
	t.Helper()
	c := &inmemCluster{}
	var peers []Peer
	for i := range n {
		addr, tr := raft.NewInmemTransport("")
		c.trans = append(c.trans, tr)
		peers = append(peers, Peer{ID: fmt.Sprintf("s%d", i), Addr: string(addr)})
	}
	for i, a := range c.trans {
		for j, b := range c.trans {
			if i != j {
				a.Connect(b.LocalAddr(), b)
			}
		}
	}
	for i := range n {
		cfg := Config{ID: peers[i].ID, Bootstrap: true, Peers: peers, Transport: c.trans[i], InMemory: true}
		cfg.UseFastTimeouts()
		for _, f := range tune {
			f(&cfg)
		}
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.stores = append(c.stores, s)
		t.Cleanup(func() { s.Close() })
	}
	return c
}

// leader waits for exactly one leader among the given stores.
func leaderOf(t *testing.T, stores []*Store) *Store {
	t.Helper()
	var l *Store
	waitFor(t, 10*time.Second, "a leader", func() bool {
		l = nil
		for _, s := range stores {
			if s.IsLeader() {
				if l != nil {
					return false
				}
				l = s
			}
		}
		return l != nil
	})
	return l
}

func others(all []*Store, not *Store) []*Store {
	var out []*Store
	for _, s := range all {
		if s != not {
			out = append(out, s)
		}
	}
	return out
}

// converged waits until every store has applied index idx and has the same state.
func converged(t *testing.T, stores []*Store, idx uint64) string {
	t.Helper()
	for _, s := range stores {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := s.WaitIndex(ctx, idx-1)
		cancel()
		if err != nil {
			t.Fatalf("%s did not apply index %d: %v", s.ID(), idx, err)
		}
	}
	var hash string
	waitFor(t, 10*time.Second, "identical state hashes", func() bool {
		hash = stores[0].Snapshot().Hash()
		for _, s := range stores[1:] {
			if s.Snapshot().Hash() != hash {
				return false
			}
		}
		return true
	})
	return hash
}

// writeNodes commits n node registrations through whichever store of group leads,
// retrying on a leadership change (registrations are idempotent). A name is
// acknowledged only once Apply returned without error.
func writeNodes(t *testing.T, group []*Store, prefix string, n int) (acked []string, last uint64) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		deadline := time.Now().Add(20 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			idx, err := leaderOf(t, group).Apply(ctx, RegisterNodeCmd(reg(name), t0))
			cancel()
			if err == nil {
				acked, last = append(acked, name), idx
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("apply %s: %v", name, err)
			}
		}
	}
	return acked, last
}

func requireNodes(t *testing.T, s *Store, names []string) {
	t.Helper()
	st := s.Snapshot()
	for _, n := range names {
		if _, ok := st.Node(n); !ok {
			t.Fatalf("%s lost acknowledged write %s", s.ID(), n)
		}
	}
}

func TestClusterFailover(t *testing.T) {
	c := newInmemCluster(t, 3)
	l := leaderOf(t, c.stores)
	if _, err := others(c.stores, l)[0].Apply(context.Background(), RegisterNodeCmd(reg("x"), t0)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower apply: %v, want ErrNotLeader", err)
	}
	acked, idx := writeNodes(t, c.stores, "before", 20)
	converged(t, c.stores, idx)

	// Kill the leader (no snapshot, no goodbye): the others elect a new one that has
	// every acknowledged write.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rest := others(c.stores, l)
	l2 := leaderOf(t, rest)
	requireNodes(t, l2, acked)
	more, idx := writeNodes(t, rest, "after", 10)
	converged(t, rest, idx)
	for _, s := range rest {
		requireNodes(t, s, append(acked, more...))
	}
}

func TestClusterRemoveLeader(t *testing.T) {
	c := newInmemCluster(t, 3)
	l := leaderOf(t, c.stores)
	acked, _ := writeNodes(t, c.stores, "w", 5)
	if err := l.RemoveServer(l.ID()); err != nil {
		t.Fatal(err)
	}
	rest := others(c.stores, l)
	l2 := leaderOf(t, rest)
	servers, err := l2.Servers()
	if err != nil || len(servers) != 2 {
		t.Fatalf("servers after removal = %+v, %v", servers, err)
	}
	more, idx := writeNodes(t, rest, "x", 3)
	converged(t, rest, idx)
	requireNodes(t, l2, append(acked, more...))
}

func TestPartitionedMinorityCannotCommit(t *testing.T) {
	c := newInmemCluster(t, 3)
	l := leaderOf(t, c.stores)
	_, idx := writeNodes(t, c.stores, "w", 3)
	converged(t, c.stores, idx)

	li := indexOf(c.stores, l)
	for i, tr := range c.trans {
		if i != li {
			tr.Disconnect(c.trans[li].LocalAddr())
			c.trans[li].Disconnect(tr.LocalAddr())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := l.Apply(ctx, RegisterNodeCmd(reg("minority"), t0))
	cancel()
	if err == nil {
		t.Fatal("an isolated leader committed a write")
	}
	rest := others(c.stores, l)
	more, idx := writeNodes(t, rest, "majority", 3)

	// Heal: the old leader rejoins as a follower, catches up and drops its
	// uncommitted entry.
	for i, tr := range c.trans {
		if i != li {
			tr.Connect(c.trans[li].LocalAddr(), c.trans[li])
			c.trans[li].Connect(tr.LocalAddr(), tr)
		}
	}
	converged(t, c.stores, idx)
	for _, s := range c.stores {
		requireNodes(t, s, more)
		if _, ok := s.Snapshot().Node("minority"); ok {
			t.Fatalf("%s has the minority's uncommitted write", s.ID())
		}
	}
}

func indexOf(all []*Store, s *Store) int {
	for i, x := range all {
		if x == s {
			return i
		}
	}
	return -1
}

func TestWaitIndex(t *testing.T) {
	c := newInmemCluster(t, 1)
	l := leaderOf(t, c.stores)
	_, idx := writeNodes(t, c.stores, "a", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	got, err := l.WaitIndex(ctx, idx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || got != idx {
		t.Fatalf("WaitIndex with nothing new = %d, %v", got, err)
	}
	done := make(chan uint64)
	go func() {
		got, _ := l.WaitIndex(context.Background(), idx)
		done <- got
	}()
	_, idx2 := writeNodes(t, c.stores, "b", 1)
	if got := <-done; got < idx2 {
		t.Fatalf("WaitIndex woke at %d, want >= %d", got, idx2)
	}
}

func TestSnapshotInCluster(t *testing.T) {
	c := newInmemCluster(t, 3)
	_, idx := writeNodes(t, c.stores, "a", 10)
	converged(t, c.stores, idx)
	for _, s := range c.stores {
		if err := s.TakeSnapshot(); err != nil {
			t.Fatalf("%s: %v", s.ID(), err)
		}
	}
	_, idx = writeNodes(t, c.stores, "b", 5)
	converged(t, c.stores, idx)
}

// TestLaggingFollowerInstallsSnapshot: a follower that missed entries already
// compacted away catches up from the leader's snapshot (FSM Restore) and reaches the
// same state.
func TestLaggingFollowerInstallsSnapshot(t *testing.T) {
	c := newInmemCluster(t, 3, func(cfg *Config) { cfg.TrailingLogs = 5; cfg.SnapshotThreshold = 5 })
	l := leaderOf(t, c.stores)
	_, idx := writeNodes(t, c.stores, "a", 3)
	converged(t, c.stores, idx)

	li := indexOf(c.stores, l)
	fi := (li + 1) % 3
	c.trans[li].Disconnect(c.trans[fi].LocalAddr())
	c.trans[fi].Disconnect(c.trans[li].LocalAddr())
	others := c.trans[3-li-fi]
	others.Disconnect(c.trans[fi].LocalAddr())
	c.trans[fi].Disconnect(others.LocalAddr())

	acked, idx := writeNodes(t, c.stores, "b", 30)
	if err := leaderOf(t, c.stores).TakeSnapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatal(err)
	}
	for _, tr := range c.trans {
		if tr != c.trans[fi] {
			tr.Connect(c.trans[fi].LocalAddr(), c.trans[fi])
			c.trans[fi].Connect(tr.LocalAddr(), tr)
		}
	}
	converged(t, c.stores, idx)
	requireNodes(t, c.stores[fi], acked)
	// raft records the installed snapshot just after the FSM restore returns.
	waitFor(t, 10*time.Second, "the follower to record an installed snapshot", func() bool {
		return c.stores[fi].Stats()["last_snapshot_index"] != "0"
	})
}
