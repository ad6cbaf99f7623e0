package raftstore

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
)

// Snapshot format, version 2 (streamed): a stream of JSON values, written and read one
// record at a time so that neither side ever holds the whole state as one document:
//
//	{"version":2,"index":N,"tables":9}       header
//	{"table":"meta","count":1}               one section per table, in snapshotTables order
//	{...}                                    count records, each its own JSON value
//	{"table":"index","count":123}
//	...
//
// Version 1 was one JSON document of every table (snapshotV1); Restore still reads it.
const snapshotVersion = 2

type snapshotHeader struct {
	Version int `json:"version"`
	// Index is the raft index the snapshot reflects (not part of the hash).
	Index uint64 `json:"index,omitempty"`
	// Tables is the number of sections that follow (a truncated snapshot is an error,
	// not a smaller state).
	Tables int `json:"tables"`
}

type sectionHeader struct {
	Table string `json:"table"`
	Count int    `json:"count"`
}

// writeState streams every table of tx, in snapshotTables order, each by its id
// index. It is both the snapshot body and the input of the state hash.
func writeState(enc *json.Encoder, tx *memdb.Txn) error {
	for _, tc := range snapshotTables {
		n, err := countRows(tx, tc.name)
		if err != nil {
			return err
		}
		if err := enc.Encode(sectionHeader{Table: tc.name, Count: n}); err != nil {
			return fmt.Errorf("encode %s section: %w", tc.name, err)
		}
		w := tc.newWriter()
		it, err := tx.Get(tc.name, "id")
		if err != nil {
			return fmt.Errorf("scan %s: %w", tc.name, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if err := enc.Encode(w(raw)); err != nil {
				return fmt.Errorf("encode %s record: %w", tc.name, err)
			}
		}
	}
	return nil
}

func countRows(tx *memdb.Txn, table string) (int, error) {
	it, err := tx.Get(table, "id")
	if err != nil {
		return 0, fmt.Errorf("scan %s: %w", table, err)
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	return n, nil
}

// Hash returns a canonical hash of the state (not of the applied index): two replicas
// that applied the same log, or a replica restored from a snapshot of another, have
// the same hash. It streams the snapshot body into the hash.
func (s *State) Hash() string {
	h := sha256.New()
	if err := writeState(json.NewEncoder(h), s.tx); err != nil {
		return "error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Snapshot implements raft.FSM. The memdb read transaction is an immutable view, so
// Persist can run concurrently with new applies.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	tx, idx := f.read()
	f.snaps.taken()
	return &fsmSnapshot{tx: tx, index: idx}, nil
}

type fsmSnapshot struct {
	tx    *memdb.Txn
	index uint64
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriterSize(sink, 256<<10)
	enc := json.NewEncoder(w)
	err := enc.Encode(snapshotHeader{Version: snapshotVersion, Index: s.index, Tables: len(snapshotTables)})
	if err == nil {
		err = writeState(enc, s.tx)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// Restore implements raft.FSM: it loads the snapshot into a fresh memdb and swaps it in
// whole, so readers see either the old state or the new one, never a mix, and a
// snapshot that fails half way changes nothing.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(rc, 256<<10))
	// The first value is the v2 header or the whole v1 document: both begin with
	// "version" (and v1 carries "index" too), so one decode tells them apart.
	var head snapshotV1
	if err := dec.Decode(&head); err != nil {
		return fmt.Errorf("decode snapshot header: %w", err)
	}
	db := newDB()
	l := newLoader(db)
	var err error
	switch head.Version {
	case snapshotVersion:
		err = l.sections(dec, head.Tables)
	case 1:
		err = l.v1(&head)
	default:
		return fmt.Errorf("snapshot version %d is not supported (this server reads versions 1 and %d): upgrade the server", head.Version, snapshotVersion)
	}
	if err != nil {
		l.abort()
		return fmt.Errorf("restore snapshot: %w", err)
	}
	l.commit()
	f.mu.Lock()
	f.db = db
	f.index = head.Index
	close(f.notify)
	f.notify = make(chan struct{})
	f.mu.Unlock()
	return nil
}
