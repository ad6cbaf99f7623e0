package raftstore

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-memdb"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// snapshotTables is the order and the record codec of every table in a snapshot.
// A new table in schema() needs one line here (TestSnapshotCoversSchema fails until
// it has one); plainRows suits any table whose rows are self-contained.
var snapshotTables = []tableCodec{
	plainRows[metaRecord](tableMeta),
	plainRows[indexEntry](tableIndex),
	plainRows[api.ObjectStatus](tableObjects),
	plainRows[api.Node](tableNodes),
	podRows(),
	plainRows[api.ServiceRecord](tableServices),
	plainRows[api.Endpoints](tableEndpoints),
	plainRows[api.Event](tableEvents),
	plainRows[ServerRecord](tableServers),
}

// tableCodec writes and reads the records of one table. Writers and readers are made
// per section, so a codec may carry state from one record to the next (podRows does).
type tableCodec struct {
	name string
	// newWriter returns what to encode for each stored row, in id order.
	newWriter func() func(row any) any
	// newReader returns a function decoding the next record into a row to insert.
	newReader func() func(dec *json.Decoder) (any, error)
}

func plainRows[T any](name string) tableCodec {
	return tableCodec{
		name:      name,
		newWriter: func() func(any) any { return func(row any) any { return row } },
		newReader: func() func(*json.Decoder) (any, error) {
			return func(dec *json.Decoder) (any, error) {
				v := new(T)
				if err := dec.Decode(v); err != nil {
					return nil, err
				}
				return v, nil
			}
		},
	}
}

// snapPod is a pod record in a snapshot. Replicas of one template (same Owner and
// SpecHash) share one PodSpec in the store (apply.shareSpec), so the snapshot writes
// that spec once, with the first such pod in UID order, and leaves it out of the
// others: a 100,000-pod snapshot then carries 50 specs, not 100,000, and the restored
// store shares them again instead of holding 100,000 decoded copies. The outer Spec
// shadows the embedded record's field of the same JSON name.
type snapPod struct {
	*api.PodRecord
	Spec *corev1.PodSpec `json:"spec,omitempty"`
}

func podRows() tableCodec {
	return tableCodec{
		name: tablePods,
		newWriter: func() func(any) any {
			written := map[specKey]bool{}
			return func(row any) any {
				p := row.(*api.PodRecord)
				k := specKey{p.Owner, p.SpecHash}
				if p.SpecHash != "" && written[k] {
					return snapPod{PodRecord: p}
				}
				written[k] = true
				return snapPod{PodRecord: p, Spec: &p.Spec}
			}
		},
		newReader: func() func(*json.Decoder) (any, error) {
			specs := map[specKey]*corev1.PodSpec{}
			return func(dec *json.Decoder) (any, error) {
				p := &api.PodRecord{}
				sp := snapPod{PodRecord: p}
				if err := dec.Decode(&sp); err != nil {
					return nil, err
				}
				k := specKey{p.Owner, p.SpecHash}
				switch {
				case sp.Spec != nil:
					p.Spec = *sp.Spec
					if _, ok := specs[k]; !ok && p.SpecHash != "" {
						specs[k] = &p.Spec
					}
				case specs[k] != nil:
					p.Spec = *specs[k]
				default:
					return nil, fmt.Errorf("pod %s carries no spec and no earlier pod of %s has spec %s", p.UID, p.Owner, p.SpecHash)
				}
				return p, nil
			}
		},
	}
}

// specKey names a template: the owner and the hash of its pod spec.
type specKey struct{ owner, hash string }

// loader fills a fresh, not yet published memdb.
type loader struct {
	tx *memdb.Txn
}

func newLoader(db *memdb.MemDB) *loader { return &loader{tx: db.Txn(true)} }

func (l *loader) insert(table string, row any) error {
	if err := l.tx.Insert(table, row); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

func (l *loader) commit() { l.tx.Commit() }
func (l *loader) abort()  { l.tx.Abort() }

// sections reads a version-2 body: every section the header announced, each table
// at most once; a table the snapshot does not have (written by an older server)
// stays empty.
func (l *loader) sections(dec *json.Decoder, tables int) error {
	codecs := map[string]tableCodec{}
	for _, tc := range snapshotTables {
		codecs[tc.name] = tc
	}
	seen := map[string]bool{}
	for range tables {
		var sh sectionHeader
		if err := dec.Decode(&sh); err != nil {
			return fmt.Errorf("decode section header: %w", err)
		}
		tc, ok := codecs[sh.Table]
		if !ok {
			return fmt.Errorf("snapshot has a table %q this server does not know", sh.Table)
		}
		if seen[sh.Table] {
			return fmt.Errorf("snapshot has table %q twice", sh.Table)
		}
		seen[sh.Table] = true
		read := tc.newReader()
		for i := range sh.Count {
			row, err := read(dec)
			if err != nil {
				return fmt.Errorf("decode %s record %d of %d: %w", sh.Table, i+1, sh.Count, err)
			}
			if err := l.insert(sh.Table, row); err != nil {
				return err
			}
		}
	}
	return nil
}

// snapshotV1 is the version-1 snapshot: the whole state as one JSON document. Only
// Restore reads it (old snapshots on disk, or sent by a server not yet upgraded); its
// Version and Index also decode a version-2 header, and Tables is that header's.
type snapshotV1 struct {
	Version   int                 `json:"version"`
	Index     uint64              `json:"index,omitempty"`
	Tables    int                 `json:"tables,omitempty"` // version 2 only
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

func (l *loader) v1(d *snapshotV1) error {
	m := d.Meta
	if err := l.insert(tableMeta, &m); err != nil {
		return err
	}
	if err := insertAll(l, tableIndex, d.Indexes); err != nil {
		return err
	}
	if err := insertAll(l, tableObjects, d.Objects); err != nil {
		return err
	}
	if err := insertAll(l, tableNodes, d.Nodes); err != nil {
		return err
	}
	// Replicas of one template share one spec, as the apply path stores them.
	specs := map[specKey]*corev1.PodSpec{}
	for i := range d.Pods {
		p := &d.Pods[i]
		if p.SpecHash != "" {
			k := specKey{p.Owner, p.SpecHash}
			if s := specs[k]; s != nil {
				p.Spec = *s
			} else {
				specs[k] = &p.Spec
			}
		}
		if err := l.insert(tablePods, p); err != nil {
			return err
		}
	}
	if err := insertAll(l, tableServices, d.Services); err != nil {
		return err
	}
	if err := insertAll(l, tableEndpoints, d.Endpoints); err != nil {
		return err
	}
	if err := insertAll(l, tableEvents, d.Events); err != nil {
		return err
	}
	return insertAll(l, tableServers, d.Servers)
}

func insertAll[T any](l *loader, table string, rows []T) error {
	for i := range rows {
		if err := l.insert(table, &rows[i]); err != nil {
			return err
		}
	}
	return nil
}
