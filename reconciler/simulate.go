package reconciler

import (
	"cmp"
	"net/netip"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/apply"
	corev1 "k8s.io/api/core/v1"
)

// Simulate runs Plan to a fixed point, pretending to be every agent in between: each
// pod scheduled on a Ready node becomes Running and Ready with an IP from the node's
// pod CIDR, and each pod asked to stop on a Ready or NotReady node reports Gone (which
// removes its record, as in the store). Every batch goes through apply, the store's own
// code. Time does not advance, so no node changes state by itself. It stops when a step
// changes nothing and the agents have nothing left to do, or after maxSteps steps.
// `keelson plan` uses it to show the full consequence of a branch. An error is a batch
// the store would refuse (a reconciler bug); the steps up to it are returned.
func Simulate(cfg Config, in Observed, maxSteps int) (final Observed, steps []Result, err error) {
	cur := in
	for range maxSteps {
		r := Plan(cfg, cur)
		if !r.Changes.Empty() {
			steps = append(steps, r)
			if cur, err = Apply(cur, r.Changes); err != nil {
				return cur, steps, err
			}
		}
		var acted bool
		if cur, acted, err = simulateAgents(cur); err != nil {
			return cur, steps, err
		}
		if r.Changes.Empty() && !acted {
			break
		}
	}
	return cur, steps, nil
}

// simulateAgents applies what healthy agents would report.
func simulateAgents(in Observed) (Observed, bool, error) {
	nodes := map[string]*api.Node{}
	for i := range in.Nodes {
		nodes[in.Nodes[i].Name] = &in.Nodes[i]
	}
	usedIPs := map[string]bool{}
	for _, p := range in.Pods {
		if p.Status.PodIP != "" {
			usedIPs[p.Status.PodIP] = true
		}
	}
	var reports []api.PodStatusReport
	for _, p := range in.Pods {
		n := nodes[p.Node]
		if n == nil || n.Status == api.NodeDown {
			continue
		}
		switch {
		case p.Desire == api.DesireStop:
			reports = append(reports, api.PodStatusReport{UID: p.UID, Node: p.Node, Status: p.Status, Gone: true})
		case p.Desire == api.DesireRun && n.Status == api.NodeReady && !(p.Status.Phase == corev1.PodRunning && p.Status.Ready):
			ip := nextPodIP(n.PodCIDR, usedIPs)
			usedIPs[ip] = true
			reports = append(reports, api.PodStatusReport{UID: p.UID, Node: p.Node, Status: api.PodStatus{
				Phase: corev1.PodRunning, Ready: true, PodIP: cmp.Or(p.Status.PodIP, ip), StartedAt: in.Now, ObservedAt: in.Now,
			}})
		}
	}
	if len(reports) == 0 {
		return in, false, nil
	}
	out, err := ApplyWith(in, func(st apply.State) error { return apply.StatusReports(st, reports) })
	return out, true, err
}

// nextPodIP returns the lowest free host address of cidr (from .2: .1 is the bridge).
func nextPodIP(cidr string, used map[string]bool) string {
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil {
		return ""
	}
	a := pfx.Masked().Addr().Next().Next()
	for pfx.Contains(a) {
		if !used[a.String()] {
			return a.String()
		}
		a = a.Next()
	}
	return ""
}
