package reconciler

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// The scheduler places pending pods (Desire Run, no node) in the Nomad style: cheap
// static feasibility checks (node Ready, schedulable, has a pod CIDR, nodeSelector),
// then dynamic ones (cpu/memory fit, hostPorts), then ranking: fewest pods of the same
// owner on the node (spread), then least allocated, then node name (deterministic).
//
// Cost: node usage is summed once per Plan (O(pods)); pending pods are grouped into
// classes (same owner and template ⇒ same requests and constraints), and each class
// keeps a heap of its feasible nodes, so a placement is O(log nodes) and the whole
// step is O(pods + classes×nodes + placements×log nodes) rather than pods×nodes.

// podResources is what scheduling needs from a pod spec, cached per spec hash.
type podResources struct {
	req, score api.Resources
	ports      []hostPort
}

func (p *planner) resourcesOf(r *api.PodRecord) podResources {
	if r.SpecHash != "" {
		if pr, ok := p.reqCache[r.SpecHash]; ok {
			return pr
		}
	}
	var pr podResources
	pr.req, pr.score = podRequests(&r.Spec)
	pr.ports = podHostPorts(&r.Spec)
	if r.SpecHash != "" {
		p.reqCache[r.SpecHash] = pr
	}
	return pr
}

// schedClass is a set of pending pods scheduled alike.
type schedClass struct {
	owner string
	spec  *corev1.PodSpec
	res   podResources
	pods  []*podState
}

func (p *planner) schedule() {
	var pending []*podState
	owners := map[string]map[*nodeState]int{}
	for _, ps := range p.pods {
		if ps.active() && ps.rec.Node == "" {
			pending = append(pending, ps)
			owners[ps.rec.Owner] = nil
		}
	}
	for _, ps := range p.pods {
		r := ps.rec
		if ps.deleted || r.Node == "" {
			continue
		}
		n := p.nodes[r.Node]
		if n == nil {
			continue
		}
		res := p.resourcesOf(r)
		if r.Desire == api.DesireRun {
			n.used, n.score = n.used.Add(res.req), n.score.Add(res.score)
			n.pods++
			if cnt, ok := owners[r.Owner]; ok {
				if cnt == nil {
					cnt = map[*nodeState]int{}
					owners[r.Owner] = cnt
				}
				cnt[n]++
			}
		}
		// A stopping pod still holds its host ports until its node confirms it is gone
		// (its Gone report removes the record).
		for _, hp := range res.ports {
			if n.ports == nil {
				n.ports = map[hostPort]bool{}
			}
			n.ports[hp] = true
		}
	}
	if len(pending) == 0 {
		return
	}
	slices.SortFunc(pending, func(a, b *podState) int {
		return cmp.Or(a.rec.CreatedAt.Compare(b.rec.CreatedAt), cmp.Compare(a.rec.Owner, b.rec.Owner),
			cmp.Compare(a.rec.SpecHash, b.rec.SpecHash), cmp.Compare(a.rec.Name, b.rec.Name), cmp.Compare(a.rec.UID, b.rec.UID))
	})
	var classes []*schedClass
	byKey := map[string]*schedClass{}
	for _, ps := range pending {
		k := ps.rec.Owner + "\x00" + ps.rec.SpecHash
		if ps.rec.SpecHash == "" {
			k += "\x00" + ps.rec.UID // unknown template: its own class
		}
		c := byKey[k]
		if c == nil {
			c = &schedClass{owner: ps.rec.Owner, spec: &ps.rec.Spec, res: p.resourcesOf(ps.rec)}
			byKey[k] = c
			classes = append(classes, c)
		}
		c.pods = append(c.pods, ps)
	}
	for _, c := range classes {
		cnt := owners[c.owner]
		if cnt == nil {
			cnt = map[*nodeState]int{}
			owners[c.owner] = cnt
		}
		p.scheduleClass(c, cnt)
	}
}

// scheduleClass places the pods of one class.
func (p *planner) scheduleClass(c *schedClass, count map[*nodeState]int) {
	reasons := map[string]int{}
	h := &nodeHeap{}
	for _, name := range p.nodeNames {
		n := p.nodes[name]
		if why := staticInfeasible(n, c.spec); why != "" {
			reasons[why]++
			continue
		}
		if why := p.dynamicInfeasible(n, &c.res); why != "" {
			reasons[why]++
			continue
		}
		n.cls, n.free = count[n], freeScore(n)
		h.items = append(h.items, n)
	}
	heap.Init(h)
	for _, ps := range c.pods {
		if p.cfg.MaxPodsPerBatch > 0 && p.scheduled >= p.cfg.MaxPodsPerBatch {
			return // the next step places the rest
		}
		p.scheduled++
		var placed *nodeState
		for h.Len() > 0 {
			n := h.items[0]
			if why := p.dynamicInfeasible(n, &c.res); why != "" {
				reasons[why]++
				heap.Pop(h)
				continue
			}
			placed = n
			break
		}
		if placed == nil {
			p.unschedulable(ps, unschedulableMessage(len(p.nodeNames), reasons))
			continue
		}
		placed.used, placed.score = placed.used.Add(c.res.req), placed.score.Add(c.res.score)
		placed.pods++
		for _, hp := range c.res.ports {
			if placed.ports == nil {
				placed.ports = map[hostPort]bool{}
			}
			placed.ports[hp] = true
		}
		count[placed]++
		placed.cls, placed.free = placed.cls+1, freeScore(placed)
		heap.Fix(h, 0)
		p.bind(ps, placed.node.Name)
	}
}

func (p *planner) bind(ps *podState, node string) {
	wasUnschedulable := ps.rec.Status.Reason == api.ReasonUnschedulable
	r := ps.edit()
	r.Node = node
	if wasUnschedulable {
		ps.setStatus(api.PodStatus{Phase: corev1.PodPending})
	}
	p.event(api.EventNormal, r.Key(), "Scheduled", r.Owner, "assigned %s/%s to %s", r.Namespace, r.Name, node)
	p.action(Action{Type: ActSchedule, Object: r.Owner, Pod: r.Name, PodUID: r.UID, Node: node, Message: "assigned to " + node})
}

// unschedulable leaves the pod Pending and says why, once per distinct reason.
func (p *planner) unschedulable(ps *podState, msg string) {
	st := ps.rec.Status
	if st.Reason == api.ReasonUnschedulable && st.Message == msg {
		return
	}
	ps.setStatus(api.PodStatus{Phase: corev1.PodPending, Reason: api.ReasonUnschedulable, Message: msg})
	r := ps.rec
	p.event(api.EventWarning, r.Key(), "FailedScheduling", r.Owner, "%s", msg)
	p.action(Action{Type: ActUnschedulable, Object: r.Owner, Pod: r.Name, PodUID: r.UID, Message: msg})
}

// unschedulableMessage formats Kubernetes-like "0/3 nodes are available: 2
// insufficient cpu, 1 NotReady", reasons by count then name.
func unschedulableMessage(total int, reasons map[string]int) string {
	if total == 0 {
		return "0/0 nodes are available: no nodes registered"
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(reasons[b], reasons[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", reasons[k], k)
	}
	return fmt.Sprintf("0/%d nodes are available: %s", total, strings.Join(parts, ", "))
}

// staticInfeasible checks what placing pods cannot change.
func staticInfeasible(n *nodeState, spec *corev1.PodSpec) string {
	switch {
	case n.node.Status != api.NodeReady:
		return cmp.Or(string(n.node.Status), "NotReady")
	case n.node.Unschedulable:
		return "unschedulable"
	case n.node.PodCIDR == "":
		return "without pod CIDR"
	case !subsetOf(spec.NodeSelector, n.node.Labels):
		return "not matching nodeSelector"
	}
	return placementInfeasible(&n.node, spec)
}

// dynamicInfeasible checks what each placement changes.
func (p *planner) dynamicInfeasible(n *nodeState, res *podResources) string {
	free := n.node.Allocatable.Sub(n.used)
	switch {
	case p.cfg.MaxPodsPerNode > 0 && n.pods >= p.cfg.MaxPodsPerNode:
		return "too many pods"

	case res.req.MilliCPU > free.MilliCPU:
		return "insufficient cpu"
	case res.req.MemoryBytes > free.MemoryBytes:
		return "insufficient memory"
	}
	for _, hp := range res.ports {
		if n.ports[hp] {
			return "hostPort " + hp.String() + " in use"
		}
	}
	return ""
}

// nodeHeap orders a class's feasible nodes: fewest pods of the owner, then most free
// (least allocated, non-zero requests), then name.
type nodeHeap struct {
	items []*nodeState
}

func (h *nodeHeap) Len() int { return len(h.items) }
func (h *nodeHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.cls != b.cls {
		return a.cls < b.cls
	}
	if a.free != b.free {
		return a.free > b.free
	}
	return a.node.Name < b.node.Name
}
func (h *nodeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *nodeHeap) Push(x any)    { h.items = append(h.items, x.(*nodeState)) }
func (h *nodeHeap) Pop() any {
	n := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return n
}

// freeScore is the least-allocated score in [0, 2000]: free cpu and memory fractions,
// in thousandths, summed.
func freeScore(n *nodeState) int64 {
	frac := func(alloc, used int64) int64 {
		if alloc <= 0 {
			return 0
		}
		return max(alloc-used, 0) * 1000 / alloc
	}
	a := n.node.Allocatable
	return frac(a.MilliCPU, n.score.MilliCPU) + frac(a.MemoryBytes, n.score.MemoryBytes)
}
