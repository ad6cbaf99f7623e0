// Package apply is the one definition of how a committed batch changes cluster state.
// The replicated store (raftstore's FSM, over a memdb write transaction) and the
// reconciler's Simulate (over in-memory maps, for `keelson plan`) both call these
// functions, so a preview steps through exactly the states the cluster will pass
// through. The package is pure: it reads and writes only through State, which its
// callers implement, and it imports nothing of ours but api.
//
// Semantics, in the order a batch is applied:
//   - UpsertPods creates a pod or replaces its fields, keeping the Status of an existing
//     UID (status belongs to the agent); a new UID is stored with the Status it carries.
//     An empty UID fails the whole batch.
//   - DeletePods removes records by UID (a missing one is no error).
//   - SetPodStatus (the leader's own reports: NodeLost, Unschedulable) overwrites Status
//     of an existing pod, unfenced.
//   - Services and endpoints are upserted, then deleted, by key.
//   - Node patches set only non-empty fields; StatusChangedAt moves only when the status
//     really changes. DeleteNodes then removes decommissioned nodes by name.
//   - ObjectStatus replaces the whole table when non-nil, Status the cluster status.
//   - Events are appended (numbered and bounded by the State).
//
// Agent status reports (StatusReports) are fenced: a report is applied only when the pod
// with that UID exists and is assigned to the reporting node, so an agent that was
// partitioned away cannot overwrite a replacement's state. A fenced Gone report for a
// pod whose Desire is Stop deletes the record at once: the agent has released
// everything and there is nothing left to track (stopping is two-phase: Desire Stop,
// then the agent's Gone).
package apply

import (
	"fmt"
	"maps"

	"github.com/keelson/keelson/api"
)

// State is what the apply functions read and write. Records handed out by the getters
// belong to the State and are never modified in place: every change puts a new record.
// That is what makes sharing one decoded PodSpec between replicas safe.
type State interface {
	// Pod returns the stored pod with this UID, or nil.
	Pod(uid string) (*api.PodRecord, error)
	// PodWithSpec returns a stored pod of owner whose SpecHash is specHash, or nil. It may
	// return nil even when one exists: it only saves memory.
	PodWithSpec(owner, specHash string) (*api.PodRecord, error)
	// PutPod stores p; old is the record it replaces (nil for a new UID).
	PutPod(p, old *api.PodRecord) error
	DeletePod(p *api.PodRecord) error

	PutService(s *api.ServiceRecord) error
	DeleteService(key string) error
	PutEndpoints(e *api.Endpoints) error
	DeleteEndpoints(key string) error

	// Node returns the stored node with this name, or nil.
	Node(name string) (*api.Node, error)
	PutNode(n *api.Node) error
	// DeleteNode removes a node record (a decommissioned node); a missing one is no error.
	DeleteNode(name string) error

	ReplaceObjectStatus(objs []api.ObjectStatus) error
	SetClusterStatus(s api.ClusterStatus) error
	AppendEvents(events []api.Event) error
}

// Changes applies one reconciler batch. On error the caller discards everything the
// batch wrote (the FSM aborts its transaction), so a batch is applied whole or not at
// all; the error depends on the batch and the state only, so every replica agrees.
func Changes(st State, c api.Changes) error {
	steps := []func() error{
		func() error { return upsertPods(st, c.UpsertPods) },
		func() error { return deletePods(st, c.DeletePods) },
		func() error { return setStatus(st, c.SetPodStatus, false) },
		func() error { return upsertAll(c.UpsertServices, st.PutService) },
		func() error { return deleteAll(c.DeleteServices, st.DeleteService) },
		func() error { return upsertAll(c.SetEndpoints, st.PutEndpoints) },
		func() error { return deleteAll(c.DeleteEndpoints, st.DeleteEndpoints) },
		func() error { return patchNodes(st, c.Nodes) },
		func() error { return deleteAll(c.DeleteNodes, st.DeleteNode) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if c.ObjectStatus != nil {
		if err := st.ReplaceObjectStatus(c.ObjectStatus); err != nil {
			return err
		}
	}
	if c.Status != nil {
		if err := st.SetClusterStatus(*c.Status); err != nil {
			return err
		}
	}
	if len(c.Events) > 0 {
		return st.AppendEvents(c.Events)
	}
	return nil
}

// StatusReports applies one (possibly merged) batch of agent reports, fenced by pod UID
// and node; see the package comment.
func StatusReports(st State, reports []api.PodStatusReport) error {
	return setStatus(st, reports, true)
}

// upsertPods writes pod records, keeping the Status of an existing pod with the same UID.
func upsertPods(st State, pods []api.PodRecord) error {
	specs := map[specKey]*api.PodRecord{} // replicas of one template in this batch
	for i := range pods {
		p := pods[i]
		if p.UID == "" {
			return fmt.Errorf("upsert pod %s/%s: empty uid", p.Namespace, p.Name)
		}
		old, err := st.Pod(p.UID)
		if err != nil {
			return fmt.Errorf("read pod %s: %w", p.UID, err)
		}
		if old != nil {
			p.Status = old.Status
		}
		if err := shareSpec(st, &p, specs); err != nil {
			return err
		}
		if err := st.PutPod(&p, old); err != nil {
			return fmt.Errorf("write pod %s: %w", p.UID, err)
		}
	}
	return nil
}

type specKey struct{ owner, hash string }

// shareSpec points p's spec at the decoded spec of another pod with the same owner and
// spec hash (in this batch or already stored), so 2,000 replicas of one template hold
// one PodSpec instead of 2,000 decoded copies. Same owner and hash means same template,
// so this never changes what a record says.
func shareSpec(st State, p *api.PodRecord, seen map[specKey]*api.PodRecord) error {
	if p.SpecHash == "" {
		return nil
	}
	k := specKey{p.Owner, p.SpecHash}
	if other, ok := seen[k]; ok {
		share(p, other)
		return nil
	}
	if p.Owner != "" {
		other, err := st.PodWithSpec(p.Owner, p.SpecHash)
		if err != nil {
			return fmt.Errorf("read pods of %s: %w", p.Owner, err)
		}
		if other != nil {
			share(p, other)
		}
	}
	seen[k] = p
	return nil
}

// share gives p other's spec, and other's label and annotation maps when they are
// equal (they come from the same template; a decoded record has maps of its own, one
// small map per pod otherwise).
func share(p, other *api.PodRecord) {
	p.Spec = other.Spec
	if len(p.Labels) > 0 && maps.Equal(p.Labels, other.Labels) {
		p.Labels = other.Labels
	}
	if len(p.Annotations) > 0 && maps.Equal(p.Annotations, other.Annotations) {
		p.Annotations = other.Annotations
	}
}

func deletePods(st State, uids []string) error {
	for _, uid := range uids {
		p, err := st.Pod(uid)
		if err != nil {
			return fmt.Errorf("read pod %s: %w", uid, err)
		}
		if p == nil {
			continue // idempotent
		}
		if err := st.DeletePod(p); err != nil {
			return fmt.Errorf("delete pod %s: %w", uid, err)
		}
	}
	return nil
}

// setStatus overwrites pod status; with fence set it applies agent semantics (see the
// package comment).
func setStatus(st State, reports []api.PodStatusReport, fence bool) error {
	for _, r := range reports {
		old, err := st.Pod(r.UID)
		if err != nil {
			return fmt.Errorf("read pod %s: %w", r.UID, err)
		}
		if old == nil {
			continue
		}
		if fence && (old.Node == "" || old.Node != r.Node) {
			continue
		}
		if fence && r.Gone && old.Desire == api.DesireStop {
			if err := st.DeletePod(old); err != nil {
				return fmt.Errorf("delete stopped pod %s: %w", old.UID, err)
			}
			continue
		}
		p := *old
		p.Status = r.Status
		if err := st.PutPod(&p, old); err != nil {
			return fmt.Errorf("write pod %s status: %w", p.UID, err)
		}
	}
	return nil
}

func upsertAll[T any](recs []T, put func(*T) error) error {
	for i := range recs {
		r := recs[i]
		if err := put(&r); err != nil {
			return err
		}
	}
	return nil
}

func deleteAll(keys []string, del func(string) error) error {
	for _, k := range keys {
		if err := del(k); err != nil {
			return err
		}
	}
	return nil
}

// patchNodes applies leader-owned node fields; empty fields are left alone and a patch
// for a node that is gone is dropped.
func patchNodes(st State, patches []api.NodePatch) error {
	for _, pa := range patches {
		old, err := st.Node(pa.Name)
		if err != nil {
			return fmt.Errorf("read node %s: %w", pa.Name, err)
		}
		if old == nil {
			continue
		}
		n := *old
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
		if err := st.PutNode(&n); err != nil {
			return fmt.Errorf("write node %s: %w", n.Name, err)
		}
	}
	return nil
}
