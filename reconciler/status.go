package reconciler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/keelson/keelson/api"
	"k8s.io/apimachinery/pkg/api/equality"
)

// reconcileStatus computes the Argo CD-style sync and health of every desired object
// from this step's result (so a status never lags one step behind the decisions), and
// the overall cluster status. Both are emitted only when they changed.
func (p *planner) reconcileStatus() {
	byOwner := map[string][]*podState{}
	for _, ps := range p.pods {
		if ps.active() {
			byOwner[ps.rec.Owner] = append(byOwner[ps.rec.Owner], ps)
		}
	}
	var out []api.ObjectStatus
	for _, rc := range p.desiredRCs() {
		out = append(out, p.workloadStatus(rc.key, rc.hash, int32(rc.replicas), byOwner[rc.key]))
	}
	for _, pi := range p.desiredPods() {
		out = append(out, p.workloadStatus(pi.key, pi.hash, 1, byOwner[pi.key]))
	}
	for i := range p.in.Desired.Objects.Services {
		s := &p.in.Desired.Objects.Services[i]
		st := api.ObjectStatus{Key: api.Key("Service", namespaceOf(s.Namespace), s.Name), Sync: api.Synced, Health: api.Healthy}
		if msg := p.svcProblems[st.Key]; msg != "" {
			st.Sync, st.Health, st.Message = api.OutOfSync, api.Degraded, msg
		}
		out = append(out, st)
	}
	sortStatuses(out)

	prev := map[string]api.ObjectStatus{}
	for _, st := range p.in.ObjectStatus {
		prev[st.Key] = st
	}
	for _, st := range out {
		old, had := prev[st.Key]
		if st.Health != api.Degraded || (had && old.Health == api.Degraded && old.Message == st.Message) {
			continue
		}
		reason := "Degraded"
		if strings.HasPrefix(st.Key, "Service/") {
			reason = "AllocationFailed"
		}
		p.event(api.EventWarning, st.Key, reason, "", "%s", st.Message)
	}
	if out == nil {
		out = []api.ObjectStatus{}
	}
	if !equality.Semantic.DeepEqual(out, p.in.ObjectStatus) {
		p.changes.ObjectStatus = out
	}

	cs := p.clusterStatus(out)
	old := p.in.Status
	old.UpdatedAt = cs.UpdatedAt
	if old != cs {
		p.changes.Status = &cs
	}
}

func sortStatuses(s []api.ObjectStatus) {
	slices.SortFunc(s, func(a, b api.ObjectStatus) int { return cmp.Compare(a.Key, b.Key) })
}

// workloadStatus is the status of an RC (want replicas) or a bare Pod (want 1).
func (p *planner) workloadStatus(key, hash string, want int32, pods []*podState) api.ObjectStatus {
	st := api.ObjectStatus{Key: key, Desired: want}
	var current, unsched, crash int32
	unschedMsg := ""
	for _, ps := range pods {
		if ps.rec.SpecHash == hash {
			current++
			if p.podReady(ps) {
				st.Ready++
			}
		}
		if ps.rec.Status.Reason == api.ReasonUnschedulable {
			unsched++
			unschedMsg = ps.rec.Status.Message
		}
		if crashLooping(ps.rec) {
			crash++
		}
	}
	n := int32(len(pods))
	synced := n == want && current == want
	st.Sync = api.Progressing
	if synced {
		st.Sync = api.Synced
	}
	switch {
	case unsched > 0:
		st.Health, st.Message = api.Degraded, fmt.Sprintf("%d pod(s) unschedulable: %s", unsched, unschedMsg)
	case crash > 0:
		st.Health, st.Message = api.Degraded, fmt.Sprintf("%d pod(s) in CrashLoopBackOff", crash)
	case want > 0 && n == 0:
		st.Health, st.Message = api.Missing, "no pods"
	case synced && st.Ready == want:
		st.Health = api.Healthy
	default:
		st.Health = api.HealthProgressing
		switch {
		case current < n:
			st.Message = fmt.Sprintf("rolling update: %d/%d pods updated, %d ready", current, want, st.Ready)
		case n != want:
			st.Message = fmt.Sprintf("scaling %d → %d", n, want)
		default:
			st.Message = fmt.Sprintf("%d/%d ready", st.Ready, want)
		}
	}
	return st
}

// healthRank orders health from best to worst; the cluster takes the worst.
func healthRank(h api.HealthStatus) int {
	switch h {
	case api.Healthy:
		return 0
	case api.HealthProgressing:
		return 1
	case api.Missing:
		return 2
	}
	return 3
}

func (p *planner) clusterStatus(objs []api.ObjectStatus) api.ClusterStatus {
	cs := api.ClusterStatus{AppliedCommit: p.in.Desired.Commit, Sync: api.Synced, Health: api.Healthy, UpdatedAt: p.now}
	counts := map[api.HealthStatus]int{}
	for _, o := range objs {
		counts[o.Health]++
		if healthRank(o.Health) > healthRank(cs.Health) {
			cs.Health = o.Health
		}
		switch {
		case o.Sync == api.OutOfSync:
			cs.Sync = api.OutOfSync
		case o.Sync == api.Progressing && cs.Sync == api.Synced:
			cs.Sync = api.Progressing
		}
	}
	nodes := map[api.NodeStatus]int{}
	for _, name := range p.nodeNames {
		nodes[p.nodes[name].node.Status]++
	}
	cs.Message = fmt.Sprintf("%d objects: %d healthy, %d progressing, %d degraded, %d missing; nodes: %d Ready, %d NotReady, %d Down",
		len(objs), counts[api.Healthy], counts[api.HealthProgressing], counts[api.Degraded], counts[api.Missing],
		nodes[api.NodeReady], nodes[api.NodeNotReady], nodes[api.NodeDown])
	return cs
}
