package raftstore

import (
	"fmt"
	"slices"

	"github.com/keelson/keelson/api"
)

// nodePodsIndex names the index entry of the pods assigned to one node, which is what
// an agent's NodeView blocking query waits on.
func nodePodsIndex(node string) string { return "pods/node/" + node }

func (f *FSM) applySetRevision(tx *txn, body []byte) error {
	rev := decode[api.Revision](SetRevisionType, body)
	if !rev.Valid() {
		return fmt.Errorf("revision %s has %d errors: refuse it instead", rev.Commit, len(rev.Errors))
	}
	m, err := tx.meta()
	if err != nil {
		return err
	}
	m.Revision = &rev
	// A good commit supersedes any earlier refused one.
	if m.Refused != nil && m.Refused.Commit != rev.Commit {
		m.Refused = nil
	}
	return tx.putMeta(m)
}

func (f *FSM) applyRefuseRevision(tx *txn, body []byte) error {
	r := decode[api.RefusedRevision](RefuseRevisionType, body)
	m, err := tx.meta()
	if err != nil {
		return err
	}
	m.Refused = &r
	return tx.putMeta(m)
}

func (f *FSM) applySetSourceStatus(tx *txn, body []byte) error {
	s := decode[api.SourceStatus](SetSourceStatusType, body)
	m, err := tx.meta()
	if err != nil {
		return err
	}
	m.Source = s
	return tx.putMeta(m)
}

func (f *FSM) applyRegisterNode(tx *txn, body []byte) error {
	req := decode[RegisterNodeRequest](RegisterNodeType, body)
	reg := req.Node
	if reg.Name == "" {
		return fmt.Errorf("register node: empty name")
	}
	var n api.Node
	raw, err := tx.First(tableNodes, "id", reg.Name)
	if err != nil {
		return fmt.Errorf("read node %s: %w", reg.Name, err)
	}
	if raw != nil {
		n = *raw.(*api.Node)
	} else {
		n = api.Node{Name: reg.Name, Status: api.NodeReady, RegisteredAt: req.At, StatusChangedAt: req.At}
	}
	n.Address, n.AgentURL, n.Labels = reg.Address, reg.AgentURL, reg.Labels
	n.Capacity, n.Allocatable = reg.Capacity, reg.Allocatable
	if n.KeyHash == "" { // first key wins: a name is never rebound (NodeRestriction)
		n.KeyHash = reg.KeyHash
	}
	if err := tx.Insert(tableNodes, &n); err != nil {
		return fmt.Errorf("write node %s: %w", n.Name, err)
	}
	return tx.touch(tableNodes)
}

func (f *FSM) applyChanges(tx *txn, body []byte) error {
	req := decode[ApplyChangesRequest](ApplyChangesType, body)
	m, err := tx.meta()
	if err != nil {
		return err
	}
	if req.RequestID != "" {
		if slices.Contains(m.RecentRequests, req.RequestID) {
			return nil // already applied: a retried batch
		}
		m.RecentRequests = append(m.RecentRequests, req.RequestID)
		if len(m.RecentRequests) > maxRecentRequests {
			m.RecentRequests = slices.Clone(m.RecentRequests[len(m.RecentRequests)-maxRecentRequests:])
		}
	}
	c := req.Changes
	if req.ObjectStatusSet && c.ObjectStatus == nil {
		c.ObjectStatus = []api.ObjectStatus{}
	}
	steps := []func() error{
		func() error { return upsertPods(tx, c.UpsertPods) },
		func() error { return deletePods(tx, c.DeletePods) },
		func() error { return setPodStatus(tx, c.SetPodStatus, false) },
		func() error { return upsertKeyed(tx, tableServices, c.UpsertServices) },
		func() error { return deleteKeyed(tx, tableServices, c.DeleteServices) },
		func() error { return upsertKeyed(tx, tableEndpoints, c.SetEndpoints) },
		func() error { return deleteKeyed(tx, tableEndpoints, c.DeleteEndpoints) },
		func() error { return patchNodes(tx, c.Nodes) },
		func() error { return deleteKeyed(tx, tableNodes, c.DeleteNodes) },
		func() error { return replaceObjectStatus(tx, c.ObjectStatus) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if c.Status != nil {
		m.Cluster = *c.Status
	}
	if err := f.appendEvents(tx, &m, c.Events); err != nil {
		return err
	}
	return tx.putMeta(m)
}

func (f *FSM) applyReportPodStatus(tx *txn, body []byte) error {
	req := decode[ReportPodStatusRequest](ReportPodStatusType, body)
	return setPodStatus(tx, req.Reports, true)
}

func (f *FSM) applyRegisterServer(tx *txn, body []byte) error {
	rec := decode[ServerRecord](RegisterServerType, body)
	if rec.ID == "" {
		return fmt.Errorf("register server: empty id")
	}
	if err := tx.Insert(tableServers, &rec); err != nil {
		return fmt.Errorf("write server %s: %w", rec.ID, err)
	}
	return tx.touch(tableServers)
}

func (f *FSM) applyRemoveServer(tx *txn, body []byte) error {
	req := decode[RemoveServerRequest](RemoveServerType, body)
	if _, err := tx.DeleteAll(tableServers, "id", req.ID); err != nil {
		return fmt.Errorf("delete server %s: %w", req.ID, err)
	}
	return tx.touch(tableServers)
}

// upsertPods writes pod records, keeping the Status of an existing pod with the same
// UID: status belongs to the agent, placement and desire to the reconciler.
func upsertPods(tx *txn, pods []api.PodRecord) error {
	if len(pods) == 0 {
		return nil
	}
	touched := []string{tablePods}
	specs := map[string]*api.PodRecord{} // owner/spec hash → a record whose spec to share
	for i := range pods {
		p := pods[i]
		if p.UID == "" {
			return fmt.Errorf("upsert pod %s/%s: empty uid", p.Namespace, p.Name)
		}
		raw, err := tx.First(tablePods, "id", p.UID)
		if err != nil {
			return fmt.Errorf("read pod %s: %w", p.UID, err)
		}
		if raw != nil {
			old := raw.(*api.PodRecord)
			p.Status = old.Status
			if old.Node != "" {
				touched = append(touched, nodePodsIndex(old.Node))
			}
		}
		shareSpec(tx, &p, specs)
		if p.Node != "" {
			touched = append(touched, nodePodsIndex(p.Node))
		}
		if err := tx.Insert(tablePods, &p); err != nil {
			return fmt.Errorf("write pod %s: %w", p.UID, err)
		}
	}
	return tx.touch(uniq(touched)...)
}

func deletePods(tx *txn, uids []string) error {
	if len(uids) == 0 {
		return nil
	}
	touched := []string{tablePods}
	for _, uid := range uids {
		raw, err := tx.First(tablePods, "id", uid)
		if err != nil {
			return fmt.Errorf("read pod %s: %w", uid, err)
		}
		if raw == nil {
			continue // idempotent
		}
		p := raw.(*api.PodRecord)
		if p.Node != "" {
			touched = append(touched, nodePodsIndex(p.Node))
		}
		if err := tx.Delete(tablePods, p); err != nil {
			return fmt.Errorf("delete pod %s: %w", uid, err)
		}
	}
	return tx.touch(uniq(touched)...)
}

// setPodStatus overwrites pod status. With fence set (agent reports), a report is
// applied only when the pod with that UID exists and is assigned to the reporting
// node, so an agent that was partitioned away cannot overwrite a replacement's state.
// A fenced report with Gone for a pod whose Desire is Stop removes the record: the
// agent has released everything, nothing is left to track.
func setPodStatus(tx *txn, reports []api.PodStatusReport, fence bool) error {
	var touched []string
	for _, r := range reports {
		raw, err := tx.First(tablePods, "id", r.UID)
		if err != nil {
			return fmt.Errorf("read pod %s: %w", r.UID, err)
		}
		if raw == nil {
			continue
		}
		p := *raw.(*api.PodRecord)
		if fence && (p.Node == "" || p.Node != r.Node) {
			continue
		}
		if p.Node != "" {
			touched = append(touched, nodePodsIndex(p.Node))
		}
		if fence && r.Gone && p.Desire == api.DesireStop {
			if err := tx.Delete(tablePods, &p); err != nil {
				return fmt.Errorf("delete stopped pod %s: %w", p.UID, err)
			}
			touched = append(touched, tablePods)
			continue
		}
		p.Status = r.Status
		if err := tx.Insert(tablePods, &p); err != nil {
			return fmt.Errorf("write pod %s status: %w", p.UID, err)
		}
		touched = append(touched, tablePods)
	}
	return tx.touch(uniq(touched)...)
}

// upsertKeyed writes services or endpoints (anything with a Key method on its pointer).
func upsertKeyed[T any, PT interface {
	*T
	keyer
}](tx *txn, table string, recs []T) error {
	if len(recs) == 0 {
		return nil
	}
	for i := range recs {
		r := recs[i]
		if err := tx.Insert(table, PT(&r)); err != nil {
			return fmt.Errorf("write %s: %w", PT(&r).Key(), err)
		}
	}
	return tx.touch(table)
}

func deleteKeyed(tx *txn, table string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		if _, err := tx.DeleteAll(table, "id", k); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
	}
	return tx.touch(table)
}

// patchNodes applies leader-owned node fields; empty fields are left alone.
func patchNodes(tx *txn, patches []api.NodePatch) error {
	if len(patches) == 0 {
		return nil
	}
	for _, pa := range patches {
		raw, err := tx.First(tableNodes, "id", pa.Name)
		if err != nil {
			return fmt.Errorf("read node %s: %w", pa.Name, err)
		}
		if raw == nil {
			continue // the node is gone; nothing to patch
		}
		n := *raw.(*api.Node)
		if pa.PodCIDR != "" {
			n.PodCIDR = pa.PodCIDR
		}
		if pa.Status != "" {
			if pa.Status != n.Status {
				n.StatusChangedAt = pa.At
			}
			n.Status = pa.Status
			n.StatusReason = pa.StatusReason
		}
		if err := tx.Insert(tableNodes, &n); err != nil {
			return fmt.Errorf("write node %s: %w", n.Name, err)
		}
	}
	return tx.touch(tableNodes)
}

// replaceObjectStatus replaces the whole sync/health table when objs is non-nil.
func replaceObjectStatus(tx *txn, objs []api.ObjectStatus) error {
	if objs == nil {
		return nil
	}
	if _, err := tx.DeleteAll(tableObjects, "id_prefix", ""); err != nil {
		return fmt.Errorf("clear object status: %w", err)
	}
	for i := range objs {
		o := objs[i]
		if err := tx.Insert(tableObjects, &o); err != nil {
			return fmt.Errorf("write object status %s: %w", o.Key, err)
		}
	}
	return tx.touch(tableObjects)
}

// appendEvents numbers events from the replicated counter and drops the oldest beyond
// the bound.
func (f *FSM) appendEvents(tx *txn, m *metaRecord, events []api.Event) error {
	if len(events) == 0 {
		return nil
	}
	for i := range events {
		e := events[i]
		m.LastEventSeq++
		e.Seq = m.LastEventSeq
		if err := tx.Insert(tableEvents, &e); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
	}
	if m.LastEventSeq > uint64(f.maxEvents) {
		floor := m.LastEventSeq - uint64(f.maxEvents) // delete Seq <= floor
		it, err := tx.Get(tableEvents, "id")
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
			if err := tx.Delete(tableEvents, e); err != nil {
				return fmt.Errorf("trim event %d: %w", e.Seq, err)
			}
		}
	}
	return tx.touch(tableEvents)
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// shareSpec points p's spec at the decoded spec of another pod with the same owner and
// spec hash (in this batch or already stored), so 2,000 replicas of one template hold
// one PodSpec instead of 2,000 decoded copies. Stored records are never modified in
// place (every change replaces the record), which makes the sharing safe.
func shareSpec(tx *txn, p *api.PodRecord, seen map[string]*api.PodRecord) {
	if p.SpecHash == "" {
		return
	}
	key := p.Owner + "/" + p.SpecHash
	if other, ok := seen[key]; ok {
		p.Spec = other.Spec
		return
	}
	if p.Owner != "" {
		if raw, err := tx.First(tablePods, "owner", p.Owner); err == nil && raw != nil {
			if other := raw.(*api.PodRecord); other.SpecHash == p.SpecHash {
				p.Spec = other.Spec
			}
		}
	}
	seen[key] = p
}
