package raftstore

import (
	"fmt"
	"slices"

	"github.com/hashicorp/go-memdb"
	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/apply"
)

// txState is apply.State over one write transaction. Besides the writes it keeps the
// per-table index entries that blocking queries wait on: it collects what a command
// touched (the pods table, "pods/node/N" of every node whose pods changed, ...) and
// stamps them once, in finish, so a 100,000-pod batch writes each entry once.
type txState struct {
	f       *FSM
	tx      *txn
	touched map[string]struct{}
	meta    *metaRecord // read on first use, written back by finish
}

var _ apply.State = (*txState)(nil)

func (f *FSM) txState(tx *txn) *txState {
	return &txState{f: f, tx: tx, touched: map[string]struct{}{}}
}

func (s *txState) touch(names ...string) {
	for _, n := range names {
		s.touched[n] = struct{}{}
	}
}

func (s *txState) touchPod(p *api.PodRecord) {
	s.touch(tablePods)
	if p != nil && p.Node != "" {
		s.touch(nodePodsIndex(p.Node))
	}
}

// finish writes the meta row if a command changed it and stamps the touched indexes.
func (s *txState) finish() error {
	if s.meta != nil {
		if err := s.tx.putMeta(*s.meta); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(s.touched))
	for n := range s.touched {
		names = append(names, n)
	}
	slices.Sort(names)
	return s.tx.touch(names...)
}

func (s *txState) metaRow() (*metaRecord, error) {
	if s.meta == nil {
		m, err := s.tx.meta()
		if err != nil {
			return nil, err
		}
		s.meta = &m
	}
	return s.meta, nil
}

func first[T any](tx *memdb.Txn, table string, args ...any) (*T, error) {
	raw, err := tx.First(table, "id", args...)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*T), nil
}

func (s *txState) Pod(uid string) (*api.PodRecord, error) {
	return first[api.PodRecord](s.tx.Txn, tablePods, uid)
}

// PodWithSpec looks at the owner's first pod only: replicas of a template are created
// together, so that one almost always has the current hash, and a miss costs memory,
// never correctness.
func (s *txState) PodWithSpec(owner, specHash string) (*api.PodRecord, error) {
	raw, err := s.tx.First(tablePods, "owner", owner)
	if err != nil || raw == nil {
		return nil, err
	}
	if p := raw.(*api.PodRecord); p.SpecHash == specHash {
		return p, nil
	}
	return nil, nil
}

func (s *txState) PutPod(p, old *api.PodRecord) error {
	s.touchPod(old)
	s.touchPod(p)
	return s.tx.Insert(tablePods, p)
}

func (s *txState) DeletePod(p *api.PodRecord) error {
	s.touchPod(p)
	return s.tx.Delete(tablePods, p)
}

func (s *txState) PutService(r *api.ServiceRecord) error {
	s.touch(tableServices)
	if err := s.tx.Insert(tableServices, r); err != nil {
		return fmt.Errorf("write %s: %w", r.Key(), err)
	}
	return nil
}

func (s *txState) DeleteService(key string) error { return s.deleteKey(tableServices, key) }

func (s *txState) PutEndpoints(e *api.Endpoints) error {
	s.touch(tableEndpoints)
	if err := s.tx.Insert(tableEndpoints, e); err != nil {
		return fmt.Errorf("write endpoints %s: %w", e.Key(), err)
	}
	return nil
}

func (s *txState) DeleteEndpoints(key string) error { return s.deleteKey(tableEndpoints, key) }

func (s *txState) deleteKey(table, key string) error {
	s.touch(table)
	if _, err := s.tx.DeleteAll(table, "id", key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (s *txState) Node(name string) (*api.Node, error) {
	return first[api.Node](s.tx.Txn, tableNodes, name)
}

func (s *txState) PutNode(n *api.Node) error {
	s.touch(tableNodes)
	return s.tx.Insert(tableNodes, n)
}

func (s *txState) DeleteNode(name string) error { return s.deleteKey(tableNodes, name) }

func (s *txState) ReplaceObjectStatus(objs []api.ObjectStatus) error {
	s.touch(tableObjects)
	if _, err := s.tx.DeleteAll(tableObjects, "id_prefix", ""); err != nil {
		return fmt.Errorf("clear object status: %w", err)
	}
	for i := range objs {
		o := objs[i]
		if err := s.tx.Insert(tableObjects, &o); err != nil {
			return fmt.Errorf("write object status %s: %w", o.Key, err)
		}
	}
	return nil
}

func (s *txState) SetClusterStatus(cs api.ClusterStatus) error {
	m, err := s.metaRow()
	if err != nil {
		return err
	}
	m.Cluster = cs
	return nil
}

// AppendEvents numbers events from the replicated counter (so every replica assigns
// the same Seq) and drops the oldest beyond the FSM's bound.
func (s *txState) AppendEvents(events []api.Event) error {
	m, err := s.metaRow()
	if err != nil {
		return err
	}
	s.touch(tableEvents)
	for i := range events {
		e := events[i]
		m.LastEventSeq++
		e.Seq = m.LastEventSeq
		if err := s.tx.Insert(tableEvents, &e); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
	}
	if m.LastEventSeq <= uint64(s.f.maxEvents) {
		return nil
	}
	floor := m.LastEventSeq - uint64(s.f.maxEvents) // delete Seq <= floor
	it, err := s.tx.Get(tableEvents, "id")
	if err != nil {
		return fmt.Errorf("scan events: %w", err)
	}
	var old []*api.Event
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*api.Event)
		if e.Seq > floor {
			break
		}
		old = append(old, e)
	}
	for _, e := range old {
		if err := s.tx.Delete(tableEvents, e); err != nil {
			return fmt.Errorf("trim event %d: %w", e.Seq, err)
		}
	}
	return nil
}
