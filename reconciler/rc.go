package reconciler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keelson/keelson/api"
)

// reconcileRCs runs the ReplicationController controller for every desired RC.
func (p *planner) reconcileRCs() {
	for _, rc := range p.desiredRCs() {
		p.reconcileRC(rc)
	}
}

// reconcileRC brings one RC's active pods to its replica count and template. All of
// it is derived from the committed pods (owner, spec hash, readiness), so a new
// leader resumes a rollout exactly where the old one stopped.
//
// Rolling update (template hash changed): at most one pod above replicas (surge 1); a
// new pod is created only when every new pod is Ready; an old pod is stopped when
// that keeps at least `replicas` pods Ready (so: when a new one became Ready). Old pods
// that are not Ready are stopped first, as they serve nothing. One exception keeps a
// full cluster from deadlocking: when a new pod cannot be scheduled, one Ready old
// pod may be stopped to make room, never going below replicas-1 Ready.
func (p *planner) reconcileRC(rc *rcInfo) {
	var cur, old []*podState
	for _, ps := range p.owned[rc.key] {
		if ps.rec.SpecHash == rc.hash {
			cur = append(cur, ps)
		} else {
			old = append(old, ps)
		}
	}
	R := rc.replicas
	if len(old) == 0 {
		p.scaleRC(rc, cur, R)
		return
	}
	if len(cur) > R {
		cur = p.scaleRC(rc, cur, R)
	}
	ready, unschedulable, allCurReady := 0, false, true
	for _, ps := range cur {
		if p.podReady(ps) {
			ready++
		} else {
			allCurReady = false
		}
		if ps.rec.Status.Reason == api.ReasonUnschedulable {
			unschedulable = true
		}
	}
	for _, ps := range old {
		if p.podReady(ps) {
			ready++
		}
	}
	total := len(cur) + len(old)
	slices.SortFunc(old, p.stopOrder(old, colocation(p.owned[rc.key])))
	for _, ps := range old {
		if total <= R {
			break
		}
		isReady := p.podReady(ps)
		switch {
		case !isReady:
		case ready-1 >= R:
		case unschedulable && ready-1 >= R-1 && R > 1:
			unschedulable = false // only one pod's worth of room at a time
		default:
			continue
		}
		p.stopPod(ps, "Rolled", fmt.Sprintf("template of %s changed (%s → %s)", rc.key, ps.rec.SpecHash, rc.hash))
		total--
		if isReady {
			ready--
		}
	}
	create := R - total
	if create <= 0 && allCurReady && len(cur) < R && total < R+1 {
		create = 1
	}
	create = min(create, R-len(cur))
	for range max(create, 0) {
		if p.newRCPod(rc, "rolling update to template "+rc.hash) == nil {
			break
		}
	}
}

// scaleRC creates or stops pods of the current template to reach want; it returns the
// pods kept.
func (p *planner) scaleRC(rc *rcInfo, cur []*podState, want int) []*podState {
	switch {
	case len(cur) < want:
		for range want - len(cur) {
			ps := p.newRCPod(rc, fmt.Sprintf("%s wants %d replicas", rc.key, want))
			if ps == nil {
				break
			}
			cur = append(cur, ps)
		}
	case len(cur) > want:
		slices.SortFunc(cur, p.stopOrder(cur, colocation(cur)))
		extra := len(cur) - want
		for _, ps := range cur[:extra] {
			p.stopPod(ps, "ScaledDown", fmt.Sprintf("%s wants %d replicas", rc.key, want))
		}
		cur = cur[extra:]
	}
	return cur
}

func (p *planner) newRCPod(rc *rcInfo, why string) *podState {
	name := p.generateName(rc.ns, rc.name)
	return p.createPod(rc.key, rc.ns, name, rc.labels, rc.annotations, rc.spec, rc.hash, why)
}

// reconcileBarePods keeps exactly one active pod per desired bare Pod, of the current
// spec. A replacement (spec changed in Git, node lost) gets a new UID and keeps the
// name, so an agent that comes back is fenced by UID.
func (p *planner) reconcileBarePods() {
	had := map[string]bool{} // owners with any record (a lost or stopping pod)
	for _, ps := range p.pods {
		if !ps.isNew && strings.HasPrefix(ps.rec.Owner, "Pod/") {
			had[ps.rec.Owner] = true
		}
	}
	for _, pi := range p.desiredPods() {
		act := p.owned[pi.key]
		order := p.stopOrder(act, nil)
		slices.SortFunc(act, func(a, b *podState) int { return order(b, a) }) // best first
		var keep *podState
		for _, ps := range act {
			switch {
			case keep == nil && ps.rec.SpecHash == pi.hash:
				keep = ps
			case ps.rec.SpecHash != pi.hash:
				p.stopPod(ps, "Replaced", "spec of "+pi.key+" changed in Git")
			default:
				p.stopPod(ps, "Replaced", "duplicate of "+pi.key)
			}
		}
		if keep != nil {
			continue
		}
		why := "declared in Git"
		if had[pi.key] {
			why = "replacement (new UID)"
		}
		p.createPod(pi.key, pi.ns, pi.name, pi.pod.Labels, pi.pod.Annotations, &pi.pod.Spec, pi.hash, why)
	}
}

// colocation counts the pods per node, so scale-down stops pods where an owner's
// replicas are most crowded first (keeping the spread the scheduler built).
func colocation(pods []*podState) map[string]int {
	m := make(map[string]int, len(pods))
	for _, ps := range pods {
		if ps.rec.Node != "" {
			m[ps.rec.Node]++
		}
	}
	return m
}
