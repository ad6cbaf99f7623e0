package raftstore

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// Table names of the FSM's memdb. They are part of the snapshot format.
const (
	tableMeta      = "meta"
	tableIndex     = "index"
	tableObjects   = "objects"
	tableNodes     = "nodes"
	tablePods      = "pods"
	tableServices  = "services"
	tableEndpoints = "endpoints"
	tableEvents    = "events"
	tableServers   = "servers"
)

// indexEntry records the raft index at which a table (or a slice of one, such as
// "pods/node/n1") last changed. Blocking queries compare against these so that a
// watcher wakes only when something it reads may have changed (Consul's "index" table).
type indexEntry struct {
	Name  string `json:"name"`
	Index uint64 `json:"index"`
}

// keyIndexer indexes records by their Key() method ("Kind/namespace/name"), so deletes
// can use the keys the reconciler emits without parsing them.
type keyIndexer struct{}

type keyer interface{ Key() string }

func (keyIndexer) FromObject(obj any) (bool, []byte, error) {
	k, ok := obj.(keyer)
	if !ok {
		return false, nil, fmt.Errorf("%T has no Key method", obj)
	}
	return true, []byte(k.Key() + "\x00"), nil
}

func (keyIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("key index takes one argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("key index argument must be a string, got %T", args[0])
	}
	return []byte(s + "\x00"), nil
}

func schema() *memdb.DBSchema {
	str := func(field string) *memdb.StringFieldIndex { return &memdb.StringFieldIndex{Field: field} }
	id := func(ix memdb.Indexer) *memdb.IndexSchema {
		return &memdb.IndexSchema{Name: "id", Unique: true, Indexer: ix}
	}
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableMeta: {Name: tableMeta, Indexes: map[string]*memdb.IndexSchema{
			"id": id(str("ID")),
		}},
		tableIndex:   {Name: tableIndex, Indexes: map[string]*memdb.IndexSchema{"id": id(str("Name"))}},
		tableObjects: {Name: tableObjects, Indexes: map[string]*memdb.IndexSchema{"id": id(str("Key"))}},
		tableNodes:   {Name: tableNodes, Indexes: map[string]*memdb.IndexSchema{"id": id(str("Name"))}},
		tablePods: {Name: tablePods, Indexes: map[string]*memdb.IndexSchema{
			"id":    id(str("UID")),
			"node":  {Name: "node", AllowMissing: true, Indexer: str("Node")},
			"owner": {Name: "owner", AllowMissing: true, Indexer: str("Owner")},
			"name": {Name: "name", Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				str("Namespace"), str("Name"),
			}}},
		}},
		tableServices:  {Name: tableServices, Indexes: map[string]*memdb.IndexSchema{"id": id(keyIndexer{})}},
		tableEndpoints: {Name: tableEndpoints, Indexes: map[string]*memdb.IndexSchema{"id": id(keyIndexer{})}},
		tableEvents: {Name: tableEvents, Indexes: map[string]*memdb.IndexSchema{
			"id": id(&memdb.UintFieldIndex{Field: "Seq"}),
		}},
		tableServers: {Name: tableServers, Indexes: map[string]*memdb.IndexSchema{"id": id(str("ID"))}},
	}}
}
