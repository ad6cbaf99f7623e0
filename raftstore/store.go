// Package raftstore is Keelson's replicated state: hashicorp/raft with a raft-boltdb
// log and stable store, a file snapshot store and a TCP transport, driving an FSM over
// go-memdb tables. It knows nothing about scheduling: the leader's reconciler decides,
// the store records decisions as typed commands and serves consistent, blocking reads.
package raftstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// ErrNotLeader is returned for writes and membership changes on a follower; the
// caller forwards to the leader.
var ErrNotLeader = errors.New("not the raft leader")

// ErrIndeterminate wraps a write whose outcome is unknown (leadership was lost after
// the entry was sent): it may or may not have committed. Commands are idempotent, so
// the caller may recompute and retry.
var ErrIndeterminate = errors.New("outcome unknown: leadership lost during apply")

// Peer is one voter of an initial cluster configuration.
type Peer struct {
	ID   string
	Addr string // raft address
}

// Config configures a Store. Zero timeouts mean hashicorp/raft's defaults.
type Config struct {
	ID      string
	DataDir string // raft.db (log + stable store) and snapshots/; unused with InMemory
	// BindAddr is the raft TCP listen address; AdvertiseAddr is what peers dial (default
	// BindAddr, which must then not be a wildcard).
	BindAddr, AdvertiseAddr string
	// Bootstrap starts a new cluster when this server has no raft state: with Peers, all
	// of them are the initial voters (every peer may bootstrap with the same list);
	// without, this server alone.
	Bootstrap bool
	Peers     []Peer
	// Transport replaces the TCP transport (tests: raft.NewInmemTransport).
	Transport raft.Transport
	// TLS is required for the TCP transport (there is no plaintext raft): this
	// server's certificate, RootCAs to verify peers and ClientCAs with
	// RequireAndVerifyClientCert to verify callers, and a check that admits server
	// certificates only (pki.MutualTLS); certificates need the raft address's IP SAN.
	TLS *tls.Config
	// InMemory keeps log, stable store and snapshots in memory (tests).
	InMemory bool
	Logger   *slog.Logger
	// RaftLogLevel is the level of hashicorp/raft's own log lines (default Info).
	RaftLogLevel slog.Level

	// Log compaction (compaction.go): a snapshot after SnapshotBytes of applied
	// entries (default DefaultSnapshotBytes; < 0 off), after SnapshotThreshold entries
	// (default DefaultSnapshotThreshold) or every SnapshotInterval (raft's default);
	// TrailingLogs entries stay after a snapshot (default DefaultTrailingLogs).
	SnapshotBytes     int64
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	MaxEvents         int

	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout time.Duration
}

// UseFastTimeouts shortens raft's timeouts for tests on one machine (still long
// enough not to flap on a loaded 2-core CI runner with the race detector).
func (c *Config) UseFastTimeouts() {
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 200 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

// Store is one server's replica of the state.
type Store struct {
	id     string
	logger *slog.Logger
	fsm    *FSM
	raft   *raft.Raft
	trans  raft.Transport
	bolt   io.Closer // nil when in memory

	notifyCh chan bool
	done     chan struct{}
	wg       sync.WaitGroup

	lmu           sync.Mutex
	isLeader      bool
	leaderChanged chan struct{} // closed and replaced on every leadership change
	closeOnce     sync.Once
	closeErr      error

	ready readiness // consistent reads without a log write (readindex.go)
}

// Open starts (or restarts from DataDir) a replica.
func Open(cfg Config) (*Store, error) {
	if cfg.ID == "" {
		return nil, errors.New("raftstore: empty server ID")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hlog := newHCLogger(logger, cfg.RaftLogLevel)

	s := &Store{
		id: cfg.ID, logger: logger, fsm: NewFSM(logger, cfg.MaxEvents),
		notifyCh: make(chan bool, 16), done: make(chan struct{}), leaderChanged: make(chan struct{}),
	}
	switch {
	case cfg.SnapshotBytes == 0:
		s.fsm.snaps = newSnapshotTrigger(DefaultSnapshotBytes)
	case cfg.SnapshotBytes > 0:
		s.fsm.snaps = newSnapshotTrigger(cfg.SnapshotBytes)
	}
	var (
		logs   raft.LogStore
		stable raft.StableStore
		snaps  raft.SnapshotStore
	)
	if cfg.InMemory {
		mem := raft.NewInmemStore()
		logs, stable, snaps = mem, mem, raft.NewInmemSnapshotStore()
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db")})
		if err != nil {
			return nil, fmt.Errorf("open raft log %s: %w", cfg.DataDir, err)
		}
		s.bolt = bolt
		logs, stable = newLogCache(bolt, logCacheEntries, logCacheBytes), bolt
		fss, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 3, hlog)
		if err != nil {
			bolt.Close()
			return nil, fmt.Errorf("snapshot store: %w", err)
		}
		snaps = fss
	}

	trans := cfg.Transport
	if trans == nil {
		t, err := newTCPTransport(cfg, hlog)
		if err != nil {
			s.closeBolt()
			return nil, err
		}
		trans = t
	}
	s.trans = trans

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hlog
	rc.NotifyCh = s.notifyCh
	// Concurrent proposals are group-committed by the leader loop (one disk write and
	// one AppendEntries for up to MaxAppendEntries of them); a buffered apply channel
	// lets them queue while the previous group is written, and the FSM applies each
	// group in one transaction (FSM.ApplyBatch).
	rc.BatchApplyCh = true
	setIf(&rc.HeartbeatTimeout, cfg.HeartbeatTimeout)
	setIf(&rc.ElectionTimeout, cfg.ElectionTimeout)
	setIf(&rc.LeaderLeaseTimeout, cfg.LeaderLeaseTimeout)
	setIf(&rc.CommitTimeout, cfg.CommitTimeout)
	rc.SnapshotThreshold, rc.TrailingLogs = DefaultSnapshotThreshold, DefaultTrailingLogs
	setIf(&rc.SnapshotInterval, cfg.SnapshotInterval)
	setIf(&rc.SnapshotThreshold, cfg.SnapshotThreshold)
	setIf(&rc.TrailingLogs, cfg.TrailingLogs)

	if cfg.Bootstrap {
		if err := bootstrap(rc, cfg, logs, stable, snaps, trans); err != nil {
			s.closeTransport()
			s.closeBolt()
			return nil, err
		}
	}
	r, err := raft.NewRaft(rc, s.fsm, logs, stable, snaps, trans)
	if err != nil {
		s.closeTransport()
		s.closeBolt()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	s.raft = r
	s.wg.Add(1)
	go s.watchLeadership()
	if s.fsm.snaps != nil {
		s.wg.Add(1)
		go s.compact(s.fsm.snaps)
	}
	return s, nil
}

func setIf[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

func newTCPTransport(cfg Config, hlog hclog.Logger) (*raft.NetworkTransport, error) {
	adv := cfg.AdvertiseAddr
	var advAddr net.Addr
	if adv != "" {
		a, err := net.ResolveTCPAddr("tcp", adv)
		if err != nil {
			return nil, fmt.Errorf("resolve raft advertise address %q: %w", adv, err)
		}
		advAddr = a
	}
	return newTLSTransport(cfg, advAddr, hlog)
}

func bootstrap(rc *raft.Config, cfg Config, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, trans raft.Transport) error {
	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return fmt.Errorf("check raft state: %w", err)
	}
	if has {
		return nil // restarting: the configuration is in the log
	}
	var servers []raft.Server
	for _, p := range cfg.Peers {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	if len(servers) == 0 {
		servers = []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: trans.LocalAddr()}}
	}
	if err := raft.BootstrapCluster(rc, logs, stable, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
		return fmt.Errorf("bootstrap cluster: %w", err)
	}
	return nil
}

// ID is this server's raft ID.
func (s *Store) ID() string { return s.id }

// RaftAddr is the address peers use to reach this server.
func (s *Store) RaftAddr() string { return string(s.trans.LocalAddr()) }

// Apply commits a command and returns its raft index once it is applied to this
// (leader's) FSM. On a follower it returns ErrNotLeader. A command the FSM rejects
// returns its error; a lost leadership returns ErrIndeterminate.
func (s *Store) Apply(ctx context.Context, cmd Command) (uint64, error) {
	data, err := cmd.Encode()
	if err != nil {
		return 0, err
	}
	if s.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := s.raft.Apply(data, timeout)
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		return 0, fmt.Errorf("apply %s: %w (the entry may still commit)", cmd.Type, ctx.Err())
	}
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return 0, ErrNotLeader
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return 0, fmt.Errorf("apply %s: %w: %v", cmd.Type, ErrIndeterminate, err)
	case err != nil:
		return 0, fmt.Errorf("apply %s: %w", cmd.Type, err)
	}
	if rerr, ok := f.Response().(error); ok && rerr != nil {
		return f.Index(), fmt.Errorf("apply %s: rejected: %w", cmd.Type, rerr)
	}
	return f.Index(), nil
}

// Barrier waits until every entry committed before the call is applied to this FSM;
// a new leader calls it before reading state to act on.
func (s *Store) Barrier(ctx context.Context) error {
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if err := s.raft.Barrier(timeout).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return ErrNotLeader
		}
		return fmt.Errorf("raft barrier: %w", err)
	}
	return nil
}

// Snapshot returns a consistent read-only view at the current applied index.
func (s *Store) Snapshot() *State { return s.fsm.State() }

// AppliedIndex is the raft index of the last entry applied to this FSM.
func (s *Store) AppliedIndex() uint64 { return s.fsm.Index() }

// WaitIndex blocks until the FSM has applied an entry with index > after, or ctx ends;
// it returns the applied index either way (with ctx's error on timeout). Waiters share
// one channel closed on each apply, so thousands of them cost no polling.
func (s *Store) WaitIndex(ctx context.Context, after uint64) (uint64, error) {
	for {
		idx, ch := s.fsm.watch()
		if idx > after {
			return idx, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return idx, ctx.Err()
		case <-s.done:
			return idx, errors.New("store closed")
		}
	}
}

// TakeSnapshot forces a raft snapshot (tests, operators).
func (s *Store) TakeSnapshot() error {
	if err := s.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// Close shuts raft down (no final snapshot: restart replays the log) and closes the
// log store. Safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		err := s.raft.Shutdown().Error()
		close(s.done)
		s.wg.Wait()
		if cerr := s.closeBolt(); err == nil {
			err = cerr
		}
		s.closeErr = err
	})
	return s.closeErr
}

func (s *Store) closeBolt() error {
	if s.bolt == nil {
		return nil
	}
	err := s.bolt.Close()
	s.bolt = nil
	return err
}

func (s *Store) closeTransport() {
	if c, ok := s.trans.(raft.WithClose); ok {
		_ = c.Close()
	}
}

// Stats returns hashicorp/raft's statistics (state, term, indexes, snapshot), for
// operators and tests.
func (s *Store) Stats() map[string]string { return s.raft.Stats() }
