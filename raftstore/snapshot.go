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
	"github.com/keelson/keelson/api"
)

// snapshotData is the whole state in a canonical order (every table by its id index).
// It is both the snapshot format and the input of the state hash.
type snapshotData struct {
	Version int `json:"version"`
	// Index is the raft index the snapshot reflects (set by Persist, not part of the hash).
	Index     uint64              `json:"index,omitempty"`
	Meta      metaRecord          `json:"meta"`
	Indexes   []indexEntry        `json:"indexes"`
	Objects   []api.ObjectStatus  `json:"objects"`
	Nodes     []api.Node          `json:"nodes"`
	Pods      []api.PodRecord     `json:"pods"`
	Services  []api.ServiceRecord `json:"services"`
	Endpoints []api.Endpoints     `json:"endpoints"`
	Events    []api.Event         `json:"events"`
	Servers   []ServerRecord      `json:"servers"`
}

const snapshotVersion = 1

func dump(tx *memdb.Txn) snapshotData {
	st := &State{tx: tx}
	return snapshotData{
		Version:   snapshotVersion,
		Meta:      st.meta(),
		Indexes:   list[indexEntry](tx, tableIndex, "id"),
		Objects:   st.ObjectStatus(),
		Nodes:     st.Nodes(),
		Pods:      st.Pods(),
		Services:  st.Services(),
		Endpoints: st.Endpoints(),
		Events:    st.Events(0, 0),
		Servers:   st.ServerRecords(),
	}
}

// Hash returns a canonical hash of the state (not of the applied index): two replicas
// that applied the same log, or a replica restored from a snapshot of another, have
// the same hash.
func (s *State) Hash() string {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(dump(s.tx)); err != nil {
		return "error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Snapshot implements raft.FSM. The memdb read transaction is an immutable view, so
// Persist can run concurrently with new applies.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	tx, idx := f.read()
	return &fsmSnapshot{tx: tx, index: idx}, nil
}

type fsmSnapshot struct {
	tx    *memdb.Txn
	index uint64
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriter(sink)
	d := dump(s.tx)
	d.Index = s.index
	if err := json.NewEncoder(w).Encode(d); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("encode snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// Restore implements raft.FSM: it loads the snapshot into a fresh memdb and swaps it in
// whole, so readers see either the old state or the new one, never a mix.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var d snapshotData
	if err := json.NewDecoder(bufio.NewReader(rc)).Decode(&d); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	if d.Version != snapshotVersion {
		return fmt.Errorf("snapshot version %d, want %d", d.Version, snapshotVersion)
	}
	db := newDB()
	tx := db.Txn(true)
	if err := load(tx, d); err != nil {
		tx.Abort()
		return err
	}
	tx.Commit()
	f.mu.Lock()
	f.db = db
	f.index = d.Index
	close(f.notify)
	f.notify = make(chan struct{})
	f.mu.Unlock()
	return nil
}

func load(tx *memdb.Txn, d snapshotData) error {
	m := d.Meta
	if err := tx.Insert(tableMeta, &m); err != nil {
		return fmt.Errorf("restore meta: %w", err)
	}
	if err := insertAll(tx, tableIndex, d.Indexes); err != nil {
		return err
	}
	if err := insertAll(tx, tableObjects, d.Objects); err != nil {
		return err
	}
	if err := insertAll(tx, tableNodes, d.Nodes); err != nil {
		return err
	}
	if err := insertAll(tx, tablePods, d.Pods); err != nil {
		return err
	}
	if err := insertAll(tx, tableServices, d.Services); err != nil {
		return err
	}
	if err := insertAll(tx, tableEndpoints, d.Endpoints); err != nil {
		return err
	}
	if err := insertAll(tx, tableEvents, d.Events); err != nil {
		return err
	}
	return insertAll(tx, tableServers, d.Servers)
}

func insertAll[T any](tx *memdb.Txn, table string, rows []T) error {
	for i := range rows {
		if err := tx.Insert(table, &rows[i]); err != nil {
			return fmt.Errorf("restore %s: %w", table, err)
		}
	}
	return nil
}
