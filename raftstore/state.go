package raftstore

import (
	"github.com/hashicorp/go-memdb"
	"github.com/keelson/keelson/api"
)

// State is a consistent read-only view of the replicated state at one raft index.
// It is a memdb read transaction: taking one is O(1), holding one never blocks writers.
// Returned records are shallow copies: their maps and slices are shared with the store
// and must not be modified.
type State struct {
	tx    *memdb.Txn
	index uint64
}

// Index is the raft index this view reflects.
func (s *State) Index() uint64 { return s.index }

// TableIndex returns the raft index at which a table last changed (0 if never). Names:
// "meta", "objects", "nodes", "pods", "services", "endpoints", "events", "servers".
func (s *State) TableIndex(name string) uint64 {
	raw, err := s.tx.First(tableIndex, "id", name)
	if err != nil || raw == nil {
		return 0
	}
	return raw.(*indexEntry).Index
}

// NodeViewIndex is the raft index at which anything in one agent's NodeView last
// changed: its pods, any node, service or endpoints. Heartbeats are not in raft, so an
// idle cluster does not wake agents.
func (s *State) NodeViewIndex(node string) uint64 {
	return max(s.TableIndex(nodePodsIndex(node)), s.TableIndex(tableNodes),
		s.TableIndex(tableServices), s.TableIndex(tableEndpoints))
}

func (s *State) meta() metaRecord {
	raw, err := s.tx.First(tableMeta, "id", metaID)
	if err != nil || raw == nil {
		return metaRecord{ID: metaID}
	}
	return *raw.(*metaRecord)
}

// Revision returns the last good revision (with Objects), nil before the first.
func (s *State) Revision() *api.Revision {
	if r := s.meta().Revision; r != nil {
		c := *r
		return &c
	}
	return nil
}

// Refused returns the newest refused revision, nil when none is newer than the last
// good one.
func (s *State) Refused() *api.RefusedRevision {
	if r := s.meta().Refused; r != nil {
		c := *r
		return &c
	}
	return nil
}

// Source returns the Git source condition as last recorded by the leader.
func (s *State) Source() api.SourceStatus { return s.meta().Source }

// Cluster returns the overall sync/health status.
func (s *State) Cluster() api.ClusterStatus { return s.meta().Cluster }

// LastEventSeq returns the Seq of the newest event ever recorded.
func (s *State) LastEventSeq() uint64 { return s.meta().LastEventSeq }

// ObjectStatus returns the sync/health table sorted by key.
func (s *State) ObjectStatus() []api.ObjectStatus {
	return list[api.ObjectStatus](s.tx, tableObjects, "id")
}

// Nodes returns all nodes sorted by name.
func (s *State) Nodes() []api.Node { return list[api.Node](s.tx, tableNodes, "id") }

// Node returns one node.
func (s *State) Node(name string) (api.Node, bool) { return one[api.Node](s.tx, tableNodes, name) }

// Pods returns all pods sorted by UID.
func (s *State) Pods() []api.PodRecord { return list[api.PodRecord](s.tx, tablePods, "id") }

// PodsOnNode returns the pods assigned to a node (any Desire).
func (s *State) PodsOnNode(name string) []api.PodRecord {
	return list[api.PodRecord](s.tx, tablePods, "node", name)
}

// PodsByName returns the pods with a namespace and name (a bare pod and its
// replacement may briefly share one).
func (s *State) PodsByName(namespace, name string) []api.PodRecord {
	return list[api.PodRecord](s.tx, tablePods, "name", namespace, name)
}

// PodsByOwner returns the pods of one owner key, e.g. "ReplicationController/ns/web".
func (s *State) PodsByOwner(owner string) []api.PodRecord {
	return list[api.PodRecord](s.tx, tablePods, "owner", owner)
}

// Pod returns one pod by UID.
func (s *State) Pod(uid string) (api.PodRecord, bool) {
	return one[api.PodRecord](s.tx, tablePods, uid)
}

// Services returns all service records sorted by key.
func (s *State) Services() []api.ServiceRecord {
	return list[api.ServiceRecord](s.tx, tableServices, "id")
}

// Endpoints returns all endpoints sorted by key.
func (s *State) Endpoints() []api.Endpoints { return list[api.Endpoints](s.tx, tableEndpoints, "id") }

// Events returns up to limit events with Seq > sinceSeq, oldest first (limit <= 0: all).
func (s *State) Events(sinceSeq uint64, limit int) []api.Event {
	it, err := s.tx.LowerBound(tableEvents, "id", sinceSeq+1)
	if err != nil {
		return nil
	}
	var out []api.Event
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, *raw.(*api.Event))
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// ServerRecords returns the servers table (ID → raft and HTTP address).
func (s *State) ServerRecords() []ServerRecord { return list[ServerRecord](s.tx, tableServers, "id") }

// list copies every row of an index lookup. Errors can only come from a wrong index
// name, which tests catch; they yield an empty list rather than a panic.
func list[T any](tx *memdb.Txn, table, index string, args ...any) []T {
	it, err := tx.Get(table, index, args...)
	if err != nil {
		return nil
	}
	out := []T{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, *raw.(*T))
	}
	return out
}

func one[T any](tx *memdb.Txn, table, id string) (T, bool) {
	var zero T
	raw, err := tx.First(table, "id", id)
	if err != nil || raw == nil {
		return zero, false
	}
	return *raw.(*T), true
}
