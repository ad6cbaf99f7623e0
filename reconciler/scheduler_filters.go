package reconciler

import (
	"fmt"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// Placement filters of issue 15, run with the other static checks (they depend only
// on the node record and the pod spec): spec.nodeName, taints and tolerations, and
// required node affinity. Each returns the reason counted in "0/N nodes are
// available: ..." or "".

// placementInfeasible runs the placement filters, cheapest first.
func placementInfeasible(n *api.Node, spec *corev1.PodSpec) string {
	if spec.NodeName != "" && spec.NodeName != n.Name {
		return "not the pod's nodeName " + spec.NodeName
	}
	if t := untoleratedTaint(n.Taints, spec.Tolerations, false); t != nil {
		return fmt.Sprintf("with untolerated taint {%s: %s}", t.Key, t.Effect)
	}
	if !matchesNodeAffinity(n, spec.Affinity) {
		return "not matching required node affinity"
	}
	return ""
}

// untoleratedTaint is the first taint that blocks the pod: one with effect NoSchedule
// or NoExecute (PreferNoSchedule only discourages, and Keelson ranks by load alone)
// that no toleration matches. With noExecuteOnly only NoExecute taints count.
func untoleratedTaint(taints []corev1.Taint, tols []corev1.Toleration, noExecuteOnly bool) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		switch {
		case t.Effect == corev1.TaintEffectPreferNoSchedule:
			continue
		case noExecuteOnly && t.Effect != corev1.TaintEffectNoExecute:
			continue
		}
		if !tolerated(t, tols) {
			return t
		}
	}
	return nil
}

func tolerated(t *corev1.Taint, tols []corev1.Toleration) bool {
	for i := range tols {
		if tols[i].ToleratesTaint(t) {
			return true
		}
	}
	return false
}

// matchesNodeAffinity is requiredDuringSchedulingIgnoredDuringExecution: the node
// matches if any term matches, a term if all of its expressions do. (Validation
// refused matchFields; the preferred terms are accepted and ignored.)
func matchesNodeAffinity(n *api.Node, a *corev1.Affinity) bool {
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	set := labels.Set(n.Labels)
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchExpressions) == 0 {
			continue // an empty term matches nothing, as in Kubernetes
		}
		ok := true
		for _, e := range term.MatchExpressions {
			r, err := labels.NewRequirement(e.Key, nodeSelectorOp(e.Operator), e.Values)
			if err != nil || !r.Matches(set) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func nodeSelectorOp(op corev1.NodeSelectorOperator) selection.Operator {
	switch op {
	case corev1.NodeSelectorOpIn:
		return selection.In
	case corev1.NodeSelectorOpNotIn:
		return selection.NotIn
	case corev1.NodeSelectorOpExists:
		return selection.Exists
	case corev1.NodeSelectorOpDoesNotExist:
		return selection.DoesNotExist
	case corev1.NodeSelectorOpGt:
		return selection.GreaterThan
	case corev1.NodeSelectorOpLt:
		return selection.LessThan
	}
	return selection.Operator(op)
}

// noExecuteEviction says whether a pod running on a node must be evicted for the
// node's NoExecute taints: yes for a taint it does not tolerate; for one it tolerates
// only with tolerationSeconds, once that long has passed since the taint was added
// (a taint without TimeAdded counts from the node's registration).
func noExecuteEviction(n *api.Node, tols []corev1.Toleration, now time.Time) (bool, string) {
	if t := untoleratedTaint(n.Taints, tols, true); t != nil {
		return true, fmt.Sprintf("node %s has taint {%s: NoExecute} that the pod does not tolerate", n.Name, t.Key)
	}
	for i := range n.Taints {
		t := &n.Taints[i]
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		added := n.RegisteredAt
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		// The pod stays for the longest of its matching tolerations; one without
		// tolerationSeconds tolerates forever.
		var longest time.Duration
		forever := false
		for j := range tols {
			if !tols[j].ToleratesTaint(t) {
				continue
			}
			if tols[j].TolerationSeconds == nil {
				forever = true
				break
			}
			longest = max(longest, time.Duration(max(*tols[j].TolerationSeconds, 0))*time.Second)
		}
		if !forever && !now.Before(added.Add(longest)) {
			return true, fmt.Sprintf("node %s has taint {%s: NoExecute}, tolerated for %s only", n.Name, t.Key, longest)
		}
	}
	return false, ""
}

// evictUntolerated stops the running pods of nodes whose NoExecute taints they do not
// tolerate (Kubernetes' taint manager); their owners replace them elsewhere, as for a
// lost node.
func (p *planner) evictUntolerated() {
	for _, ps := range p.pods {
		r := ps.rec
		if r.Desire != api.DesireRun || r.Node == "" {
			continue
		}
		n := p.nodes[r.Node]
		if n == nil || len(n.node.Taints) == 0 {
			continue
		}
		evict, why := noExecuteEviction(&n.node, r.Spec.Tolerations, p.now)
		if !evict {
			continue
		}
		node := r.Node
		ps.edit().Desire = api.DesireStop
		ps.setStatus(api.PodStatus{Phase: corev1.PodFailed, Reason: "TaintEviction", Message: why})
		p.event(api.EventWarning, r.Key(), "TaintManagerEviction", r.Owner, "evicting pod %s: %s", r.Name, why)
		p.action(Action{Type: ActEvictPod, Object: r.Owner, Pod: r.Name, PodUID: r.UID, Node: node, Message: why})
	}
}
