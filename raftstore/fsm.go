package raftstore

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"github.com/keelson/keelson/api"
)

// DefaultMaxEvents bounds the events table; the oldest are dropped first.
const DefaultMaxEvents = 2000

// metaRecord is the single row of the meta table: the singletons of the state.
type metaRecord struct {
	ID       string               `json:"id"` // always metaID
	Revision *api.Revision        `json:"revision,omitempty"`
	Refused  *api.RefusedRevision `json:"refused,omitempty"`
	Source   api.SourceStatus     `json:"source"`
	Cluster  api.ClusterStatus    `json:"cluster"`
	// LastEventSeq numbers events; it lives in the replicated state so every replica
	// assigns the same Seq to the same event.
	LastEventSeq uint64 `json:"lastEventSeq"`
}

const metaID = "meta"

// applyFunc applies one decoded command inside a write transaction. A returned error
// aborts the transaction and is handed back to the caller of Apply; it must depend on
// the state only, so every replica takes the same decision.
type applyFunc func(f *FSM, tx *txn, body []byte) error

// commands is the dispatch table (Consul's registered command table). It is built once
// from method expressions and never modified.
var commands = map[MessageType]applyFunc{
	SetRevisionType:     (*FSM).applySetRevision,
	RefuseRevisionType:  (*FSM).applyRefuseRevision,
	SetSourceStatusType: (*FSM).applySetSourceStatus,
	RegisterNodeType:    (*FSM).applyRegisterNode,
	ApplyChangesType:    (*FSM).applyChanges,
	ReportPodStatusType: (*FSM).applyReportPodStatus,
	RegisterServerType:  (*FSM).applyRegisterServer,
	RemoveServerType:    (*FSM).applyRemoveServer,
}

// FSM is the replicated state machine: go-memdb tables changed only by log entries.
// Readers take memdb read transactions, which are immutable snapshots, so they never
// block the apply path.
type FSM struct {
	logger    *slog.Logger
	maxEvents int

	snaps *snapshotTrigger // nil: snapshots by raft's own triggers only

	mu     sync.RWMutex // guards db (swapped by Restore), index and notify
	db     *memdb.MemDB
	index  uint64        // raft index of the last applied entry
	notify chan struct{} // closed and replaced on every apply: a cheap broadcast
}

// NewFSM returns an empty state machine. maxEvents <= 0 means DefaultMaxEvents.
func NewFSM(logger *slog.Logger, maxEvents int) *FSM {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if maxEvents <= 0 {
		maxEvents = DefaultMaxEvents
	}
	return &FSM{logger: logger, maxEvents: maxEvents, db: newDB(), notify: make(chan struct{})}
}

func newDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is a constant of this package: failing here is a programming error
		// caught by every test.
		panic(fmt.Sprintf("raftstore: invalid memdb schema: %v", err))
	}
	return db
}

// Apply implements raft.FSM. A malformed entry panics: skipping it would let this
// replica diverge from the others, which is worse than stopping.
func (f *FSM) Apply(l *raft.Log) any {
	t, fn := command(l)
	f.mu.RLock()
	db := f.db
	f.mu.RUnlock()

	tx := &txn{Txn: db.Txn(true), index: l.Index}
	err := fn(f, tx, l.Data[1:])
	f.snaps.applied(len(l.Data))
	if err != nil {
		tx.Abort()
		f.logger.Warn("command rejected", "type", t, "index", l.Index, "err", err)
		f.publish(nil, l.Index)
	} else {
		f.publish(tx.Txn, l.Index)
	}
	if err != nil {
		return err
	}
	return nil
}

// ApplyBatch implements raft.BatchingFSM: the entries of one raft batch (up to
// MaxAppendEntries, which the leader group-commits from concurrent proposals) are
// applied in one memdb transaction with one wake-up of the watchers, instead of one
// commit each. If any entry is rejected the batch transaction is dropped and the
// entries are applied one by one, so a rejected entry changes nothing and every other
// entry has exactly the effect it has alone; either way the state is the one
// sequential application gives, on every replica.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	resp := make([]any, len(logs))
	f.mu.RLock()
	db := f.db
	f.mu.RUnlock()
	tx := db.Txn(true)
	var last uint64
	bytes := 0
	for _, l := range logs {
		if l.Type != raft.LogCommand {
			continue // configuration changes are raft's own; Apply never saw them either
		}
		_, fn := command(l)
		if err := fn(f, &txn{Txn: tx, index: l.Index}, l.Data[1:]); err != nil {
			tx.Abort()
			return f.applyEach(logs)
		}
		last = l.Index
		bytes += len(l.Data)
	}
	if last == 0 {
		tx.Abort()
		return resp
	}
	f.publish(tx, last)
	f.snaps.applied(bytes)
	return resp
}

func (f *FSM) applyEach(logs []*raft.Log) []any {
	resp := make([]any, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			resp[i] = f.Apply(l)
		}
	}
	return resp
}

// command returns the type and handler of an entry; a malformed one panics (see Apply).
func command(l *raft.Log) (MessageType, applyFunc) {
	if len(l.Data) == 0 {
		panic(fmt.Sprintf("raftstore: empty log entry at index %d", l.Index))
	}
	t := MessageType(l.Data[0])
	fn, ok := commands[t]
	if !ok {
		panic(fmt.Sprintf("raftstore: unknown command type %d at index %d", l.Data[0], l.Index))
	}
	return t, fn
}

// publish commits tx (if any) and records the index of the last applied entry in one
// critical section, so a reader's transaction and index always agree, then wakes the
// watchers.
func (f *FSM) publish(tx *memdb.Txn, index uint64) {
	f.mu.Lock()
	if tx != nil {
		tx.Commit()
	}
	f.index = index
	close(f.notify)
	f.notify = make(chan struct{})
	f.mu.Unlock()
}

// read returns a consistent read transaction together with the index it reflects.
func (f *FSM) read() (*memdb.Txn, uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.Txn(false), f.index
}

// Index returns the raft index of the last applied entry.
func (f *FSM) Index() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.index
}

// watch returns the applied index and a channel closed by the next apply or restore.
func (f *FSM) watch() (uint64, <-chan struct{}) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.index, f.notify
}

// State returns a read-only view of the current state.
func (f *FSM) State() *State {
	tx, idx := f.read()
	return &State{tx: tx, index: idx}
}

// decode unmarshals a command body; failure panics (see Apply).
func decode[T any](t MessageType, body []byte) T {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		panic(fmt.Sprintf("raftstore: decode %s command: %v", t, err))
	}
	return v
}

// txn is a write transaction that knows the raft index it applies, to stamp the
// per-table indexes.
type txn struct {
	*memdb.Txn
	index uint64
}

// touch records that the named table (or table slice) changed at this index.
func (tx *txn) touch(names ...string) error {
	for _, n := range names {
		if err := tx.Insert(tableIndex, &indexEntry{Name: n, Index: tx.index}); err != nil {
			return fmt.Errorf("update index %s: %w", n, err)
		}
	}
	return nil
}

// meta returns a copy of the meta row (callers modify and put it back).
func (tx *txn) meta() (metaRecord, error) {
	raw, err := tx.First(tableMeta, "id", metaID)
	if err != nil {
		return metaRecord{}, fmt.Errorf("read meta: %w", err)
	}
	if raw == nil {
		return metaRecord{ID: metaID}, nil
	}
	return *raw.(*metaRecord), nil
}

func (tx *txn) putMeta(m metaRecord) error {
	m.ID = metaID
	if err := tx.Insert(tableMeta, &m); err != nil {
		return fmt.Errorf("write meta: %w", err)
	}
	return tx.touch(tableMeta)
}
