package reconciler

import (
	"slices"

	"github.com/keelson/keelson/api"
)

// Apply returns a copy of in with the batch c applied the way the store applies it,
// so Simulate (and tests) can step the loop without a store:
//   - UpsertPods creates a pod or replaces its fields, keeping the Status of an
//     existing UID (status belongs to the agent); a new UID is stored with the Status
//     it carries.
//   - SetPodStatus overwrites Status only when the pod is still assigned to the
//     report's node (fencing); a report with Gone marks Status.Stopped.
//   - DeletePods, services, endpoints: by UID/key. Node patches set only non-empty
//     fields (a status change records At as StatusChangedAt).
//   - ObjectStatus and Status replace the old ones when non-nil. Events are not kept.
//
// Order inside a batch: upserts, then status reports, then deletions.
func Apply(in Observed, c api.Changes) Observed {
	out := in
	out.Pods = slices.Clone(in.Pods)
	idx := make(map[string]int, len(out.Pods))
	for i := range out.Pods {
		idx[out.Pods[i].UID] = i
	}
	for _, p := range c.UpsertPods {
		if i, ok := idx[p.UID]; ok {
			p.Status = out.Pods[i].Status
			out.Pods[i] = p
			continue
		}
		idx[p.UID] = len(out.Pods)
		out.Pods = append(out.Pods, p)
	}
	for _, r := range c.SetPodStatus {
		if i, ok := idx[r.UID]; ok && out.Pods[i].Node == r.Node {
			out.Pods[i].Status = r.Status
			if r.Gone {
				out.Pods[i].Status.Stopped = true
			}
		}
	}
	if len(c.DeletePods) > 0 {
		del := make(map[string]bool, len(c.DeletePods))
		for _, uid := range c.DeletePods {
			del[uid] = true
		}
		out.Pods = slices.DeleteFunc(out.Pods, func(p api.PodRecord) bool { return del[p.UID] })
	}

	out.Services = applyKeyed(in.Services, c.UpsertServices, c.DeleteServices, (*api.ServiceRecord).Key)
	out.Endpoints = applyKeyed(in.Endpoints, c.SetEndpoints, c.DeleteEndpoints, (*api.Endpoints).Key)

	out.Nodes = slices.Clone(in.Nodes)
	for _, np := range c.Nodes {
		for i := range out.Nodes {
			n := &out.Nodes[i]
			if n.Name != np.Name {
				continue
			}
			if np.PodCIDR != "" {
				n.PodCIDR = np.PodCIDR
			}
			if np.Status != "" {
				n.Status, n.StatusReason, n.StatusChangedAt = np.Status, np.StatusReason, np.At
			}
		}
	}
	if c.ObjectStatus != nil {
		out.ObjectStatus = slices.Clone(c.ObjectStatus)
	}
	if c.Status != nil {
		out.Status = *c.Status
	}
	return out
}

// applyKeyed upserts and deletes keyed records, keeping the result sorted by key.
func applyKeyed[T any](live, upsert []T, del []string, key func(*T) string) []T {
	m := make(map[string]T, len(live)+len(upsert))
	for i := range live {
		m[key(&live[i])] = live[i]
	}
	for i := range upsert {
		m[key(&upsert[i])] = upsert[i]
	}
	for _, k := range del {
		delete(m, k)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}
