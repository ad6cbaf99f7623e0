package reconciler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// rcInfo is a desired ReplicationController with its defaults applied.
type rcInfo struct {
	key, ns, name string
	replicas      int
	sel           map[string]string
	labels        map[string]string
	annotations   map[string]string
	spec          *corev1.PodSpec
	hash          string
}

// podInfo is a desired bare Pod.
type podInfo struct {
	key, ns, name string
	pod           *corev1.Pod
	hash          string
}

// desiredRCs returns the desired RCs sorted by key. They are derived (defaults applied,
// templates hashed) once per Plan: ownership, the RC controller and status all read
// them, and hashing a template is the costliest step of a converged Plan.
func (p *planner) desiredRCs() []*rcInfo {
	if p.rcs == nil {
		p.rcs = p.buildDesiredRCs()
	}
	return p.rcs
}

// desiredPods returns the desired bare Pods sorted by key, derived once per Plan.
func (p *planner) desiredPods() []*podInfo {
	if p.barePods == nil {
		p.barePods = p.buildDesiredPods()
	}
	return p.barePods
}

func (p *planner) buildDesiredRCs() []*rcInfo {
	out := []*rcInfo{}
	for i := range p.in.Desired.Objects.ReplicationControllers {
		rc := &p.in.Desired.Objects.ReplicationControllers[i]
		if rc.Spec.Template == nil {
			continue // the decoder refuses this; never act on half an object
		}
		ri := &rcInfo{ns: namespaceOf(rc.Namespace), name: rc.Name, replicas: 1, sel: rc.Spec.Selector,
			labels: rc.Spec.Template.Labels, annotations: rc.Spec.Template.Annotations, spec: &rc.Spec.Template.Spec}
		ri.key = api.Key("ReplicationController", ri.ns, ri.name)
		if rc.Spec.Replicas != nil {
			ri.replicas = int(max(*rc.Spec.Replicas, 0))
		}
		if len(ri.sel) == 0 {
			ri.sel = ri.labels // Kubernetes defaults the selector to the template labels
		}
		ri.hash = specHash(ri.labels, ri.spec)
		out = append(out, ri)
	}
	slices.SortFunc(out, func(a, b *rcInfo) int { return cmp.Compare(a.key, b.key) })
	return out
}

func (p *planner) buildDesiredPods() []*podInfo {
	out := []*podInfo{}
	for i := range p.in.Desired.Objects.Pods {
		pod := &p.in.Desired.Objects.Pods[i]
		pi := &podInfo{ns: namespaceOf(pod.Namespace), name: pod.Name, pod: pod}
		pi.key = api.Key("Pod", pi.ns, pi.name)
		pi.hash = specHash(pod.Labels, &pod.Spec)
		out = append(out, pi)
	}
	slices.SortFunc(out, func(a, b *podInfo) int { return cmp.Compare(a.key, b.key) })
	return out
}

// resolveOwnership decides, for every active pod, which desired object owns it: its
// recorded owner if that still exists and (for an RC) still selects it; otherwise the
// pod is released and becomes an orphan, which the first RC of its namespace that
// selects it adopts (an RC renamed in Git keeps its pods), or which is pruned because
// nothing in Git wants it.
func (p *planner) resolveOwnership() {
	rcs := p.desiredRCs()
	rcByKey := make(map[string]*rcInfo, len(rcs))
	for _, rc := range rcs {
		rcByKey[rc.key] = rc
	}
	bare := map[string]bool{}
	for _, pi := range p.desiredPods() {
		bare[pi.key] = true
	}
	for _, ps := range p.pods {
		if !ps.active() {
			continue
		}
		r := ps.rec
		kind, _, _ := strings.Cut(r.Owner, "/")
		if rc := rcByKey[r.Owner]; rc != nil {
			if namespaceOf(r.Namespace) == rc.ns && selectorMatches(rc.sel, r.Labels) {
				p.owned[r.Owner] = append(p.owned[r.Owner], ps)
				continue
			}
			p.event(api.EventNormal, r.Key(), "Released", rc.key, "pod %s released by %s: its labels no longer match the selector", r.Name, rc.key)
			p.action(Action{Type: ActRelease, Object: rc.key, Pod: r.Name, PodUID: r.UID, Node: r.Node, Message: "labels no longer match the selector"})
			ps.edit().Owner = ""
		} else if kind == "Pod" && bare[r.Owner] {
			p.owned[r.Owner] = append(p.owned[r.Owner], ps)
			continue
		}
		if kind != "Pod" {
			if rc := adopter(rcs, ps.rec); rc != nil {
				p.event(api.EventNormal, r.Key(), "Adopted", rc.key, "pod %s adopted by %s", r.Name, rc.key)
				p.action(Action{Type: ActAdopt, Object: rc.key, Pod: r.Name, PodUID: r.UID, Node: r.Node, Message: "orphan pod matches the selector"})
				ps.edit().Owner = rc.key
				p.owned[rc.key] = append(p.owned[rc.key], ps)
				continue
			}
		}
		p.stopPod(ps, "Pruned", cmp.Or(r.Owner, "orphan pod")+" is not in Git")
	}
}

func adopter(rcs []*rcInfo, r *api.PodRecord) *rcInfo {
	for _, rc := range rcs {
		if rc.ns == namespaceOf(r.Namespace) && selectorMatches(rc.sel, r.Labels) {
			return rc
		}
	}
	return nil
}

// stopPod asks for a pod to stop. A pod that never reached a node (or whose node is
// gone) has nothing to stop, so its record is deleted right away.
func (p *planner) stopPod(ps *podState, reason, why string) {
	r := ps.rec
	owner := r.Owner
	if r.Node == "" || !p.nodeUp(r.Node) {
		ps.deleted = true
		p.event(api.EventNormal, r.Key(), reason, owner, "pod %s deleted: %s", r.Name, why)
		p.action(Action{Type: ActDeletePod, Object: owner, Pod: r.Name, PodUID: r.UID, Node: r.Node, Message: reason + ": " + why})
		return
	}
	ps.edit().Desire = api.DesireStop
	p.event(api.EventNormal, r.Key(), reason, owner, "stopping pod %s on %s: %s", r.Name, r.Node, why)
	typ := ActStopPod
	if reason == "Rolled" {
		typ = ActRollPod
	}
	p.action(Action{Type: typ, Object: owner, Pod: r.Name, PodUID: r.UID, Node: r.Node, Message: reason + ": " + why})
}

// createPod adds a new pending pod record, within the step's creation budget. It
// returns nil when the budget is spent (the next step creates the rest).
func (p *planner) createPod(owner, ns, name string, labels, annotations map[string]string, spec *corev1.PodSpec, hash, why string) *podState {
	if p.cfg.MaxPodsPerBatch > 0 && p.created >= p.cfg.MaxPodsPerBatch {
		return nil
	}
	p.created++
	commit := ""
	if p.in.Desired != nil {
		commit = p.in.Desired.Commit
	}
	if len(p.slab) == 0 {
		p.slab = make([]api.PodRecord, 1024)
	}
	rec := &p.slab[0]
	p.slab = p.slab[1:]
	*rec = api.PodRecord{
		UID: p.cfg.NewUID(), Namespace: ns, Name: name, Owner: owner,
		Labels: labels, Annotations: annotations, Spec: *spec, SpecHash: hash,
		Commit: commit, Desire: api.DesireRun, CreatedAt: p.now,
		Status: api.PodStatus{Phase: corev1.PodPending},
	}
	ps := &podState{rec: rec, isNew: true}
	p.pods = append(p.pods, ps)
	p.byUID[rec.UID] = ps
	p.names[ns+"/"+name] = true
	p.event(api.EventNormal, rec.Key(), "SuccessfulCreate", owner, "created pod %s: %s", name, why)
	p.action(Action{Type: ActCreatePod, Object: owner, Pod: name, PodUID: rec.UID, Message: why})
	return ps
}

// generateName returns "<base>-<suffix>" unused in the namespace. The pod name becomes
// its containers' hostname, so, as Kubernetes' generateName does, the base is cut so
// that the name fits in 63 characters (a DNS label; Linux allows 64 for a hostname).
func (p *planner) generateName(ns, base string) string {
	base = truncateBase(base)
	for range 64 {
		n := base + "-" + p.cfg.NameSuffix()
		if !p.names[ns+"/"+n] {
			return n
		}
	}
	// A suffix source that keeps colliding (a broken test stub): fall back to a
	// counter so names stay unique rather than looping forever.
	for i := 0; ; i++ {
		n := fmt.Sprintf("%s-x%d", base, i)
		if !p.names[ns+"/"+n] {
			return n
		}
	}
}

// podReady is the readiness the controllers and endpoints trust: the agent's report,
// but only while the pod's node is Ready (a NotReady node's reports are stale).
func (p *planner) podReady(ps *podState) bool {
	return ps.rec.Status.Ready && ps.rec.Node != "" && p.nodeReady(ps.rec.Node)
}

// stopOrder orders candidate pods by how little is lost by stopping them (Kubernetes'
// ActivePods order): unscheduled, then pending/unknown before running, not ready
// before ready, then where the owner's pods are most crowded, more restarts, newer;
// name last for determinism. coloc (may be nil) counts the owner's pods per node; the
// j-th candidate (0-based, in that same order) on a node counts as coloc-j, so taking
// a prefix of the order is the greedy "always stop on the most crowded node" and
// keeps the scheduler's spread.
func (p *planner) stopOrder(cands []*podState, coloc map[string]int) func(a, b *podState) int {
	var crowd map[*podState]int
	if coloc != nil {
		crowd = make(map[*podState]int, len(cands))
		byNode := map[string][]*podState{}
		for _, ps := range cands {
			byNode[ps.rec.Node] = append(byNode[ps.rec.Node], ps)
		}
		for node, list := range byNode {
			slices.SortFunc(list, func(a, b *podState) int { return p.stopRank(a, b, nil) })
			for j, ps := range list {
				crowd[ps] = coloc[node] - j
			}
		}
	}
	return func(a, b *podState) int { return p.stopRank(a, b, crowd) }
}

func (p *planner) stopRank(a, b *podState, crowd map[*podState]int) int {
	rank := func(ps *podState) (int, int, int) {
		sched := 1
		if ps.rec.Node == "" {
			sched = 0
		}
		phase := 2
		switch ps.rec.Status.Phase {
		case corev1.PodPending:
			phase = 0
		case corev1.PodUnknown, "":
			phase = 1
		}
		ready := 0
		if p.podReady(ps) {
			ready = 1
		}
		return sched, phase, ready
	}
	as, ap, ar := rank(a)
	bs, bp, br := rank(b)
	return cmp.Or(cmp.Compare(as, bs), cmp.Compare(ap, bp), cmp.Compare(ar, br),
		cmp.Compare(crowd[b], crowd[a]),
		cmp.Compare(restarts(b.rec), restarts(a.rec)),
		b.rec.CreatedAt.Compare(a.rec.CreatedAt),
		cmp.Compare(a.rec.Name, b.rec.Name), cmp.Compare(a.rec.UID, b.rec.UID))
}
