package reconciler

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// reconcileEndpoints computes, for every desired Service with a selector (not
// ExternalName), its backends from this step's pods: active, scheduled, with an IP,
// labels matching. Ready is the agent's readiness while the node is Ready, so traffic
// leaves a node as soon as it stops heartbeating. A pod being stopped by this step is
// already gone from the list. Only changed lists are emitted.
func (p *planner) reconcileEndpoints() {
	liveEP := map[string]*api.Endpoints{}
	for i := range p.in.Endpoints {
		e := &p.in.Endpoints[i]
		liveEP[e.Key()] = e
	}
	want := map[string]bool{}
	if p.in.Desired != nil {
		idx := p.podIndex()
		for i := range p.in.Desired.Objects.Services {
			s := &p.in.Desired.Objects.Services[i]
			if s.Spec.Type == corev1.ServiceTypeExternalName || len(s.Spec.Selector) == 0 {
				continue
			}
			ep := p.endpointsFor(s, idx)
			key := ep.Key()
			want[key] = true
			if old := liveEP[key]; old != nil && equality.Semantic.DeepEqual(old.Ports, ep.Ports) {
				continue
			}
			p.changes.SetEndpoints = append(p.changes.SetEndpoints, ep)
			ready := 0
			for _, e := range ep.Ports {
				if e.Ready {
					ready++
				}
			}
			p.action(Action{Type: ActEndpoints, Object: key, Message: fmt.Sprintf("%d endpoints, %d ready", len(ep.Ports), ready)})
		}
		slices.SortFunc(p.changes.SetEndpoints, func(a, b api.Endpoints) int { return cmp.Compare(a.Key(), b.Key()) })
	}
	var gone []string
	for k := range liveEP {
		if !want[k] && p.in.Desired != nil {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		p.changes.DeleteEndpoints = append(p.changes.DeleteEndpoints, k)
		p.action(Action{Type: ActEndpoints, Object: k, Message: "endpoints removed"})
	}
}

// podIndex indexes the pods that can be endpoints by "ns\x00label=value", so each
// Service looks only at pods carrying one of its selector's pairs.
func (p *planner) podIndex() map[string][]*podState {
	idx := map[string][]*podState{}
	for _, ps := range p.pods {
		r := ps.rec
		if !ps.active() || r.Node == "" || r.Status.PodIP == "" || !p.nodeUp(r.Node) {
			continue
		}
		ns := namespaceOf(r.Namespace)
		for k, v := range r.Labels {
			key := ns + "\x00" + k + "=" + v
			idx[key] = append(idx[key], ps)
		}
	}
	return idx
}

func (p *planner) endpointsFor(s *corev1.Service, idx map[string][]*podState) api.Endpoints {
	ns := namespaceOf(s.Namespace)
	ep := api.Endpoints{Namespace: ns, Name: s.Name}
	// Use the selector pair with the fewest candidates.
	var cands []*podState
	first := true
	for k, v := range s.Spec.Selector {
		c := idx[ns+"\x00"+k+"="+v]
		if first || len(c) < len(cands) {
			cands, first = c, false
		}
	}
	for _, ps := range cands {
		r := ps.rec
		if !selectorMatches(s.Spec.Selector, r.Labels) {
			continue
		}
		for i := range s.Spec.Ports {
			sp := &s.Spec.Ports[i]
			port, ok := targetPort(sp, &r.Spec)
			if !ok {
				continue // the pod has no container port of that name
			}
			ep.Ports = append(ep.Ports, api.Endpoint{
				ServicePort: sp.Name, Protocol: cmp.Or(sp.Protocol, corev1.ProtocolTCP),
				PodUID: r.UID, PodName: r.Name, Node: r.Node, IP: r.Status.PodIP, Port: port,
				Ready: p.podReady(ps), Hostname: endpointHostname(s.Name, &r.Spec),
			})
		}
	}
	slices.SortFunc(ep.Ports, func(a, b api.Endpoint) int {
		return cmp.Or(cmp.Compare(a.ServicePort, b.ServicePort), cmp.Compare(a.PodName, b.PodName), cmp.Compare(a.PodUID, b.PodUID), cmp.Compare(a.Port, b.Port))
	})
	return ep
}

// targetPort resolves a Service port's targetPort on a pod: a number as is (0 means
// the Service port), a name against the pod's container ports of the same protocol.
func targetPort(sp *corev1.ServicePort, spec *corev1.PodSpec) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, true
		}
		return tp.IntVal, true
	}
	if tp.StrVal == "" {
		return sp.Port, true
	}
	proto := cmp.Or(sp.Protocol, corev1.ProtocolTCP)
	for i := range spec.Containers {
		for _, cp := range spec.Containers[i].Ports {
			if cp.Name == tp.StrVal && cmp.Or(cp.Protocol, corev1.ProtocolTCP) == proto {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// endpointHostname is the pod's hostname when its subdomain names the Service, as the
// Kubernetes endpoints controller sets it (the pod's DNS name under that Service).
func endpointHostname(service string, spec *corev1.PodSpec) string {
	if spec.Hostname != "" && spec.Subdomain == service {
		return spec.Hostname
	}
	return ""
}
