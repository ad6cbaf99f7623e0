package reconciler

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// firstServiceIPOffset skips the network address and a few low addresses (the
// Kubernetes convention reserves .1 for the API and .10 for DNS; Keelson has neither
// but keeps them free so manifests written for Kubernetes still fit).
const firstServiceIPOffset = 10

// svcPlan is one desired Service and what this step decided for it.
type svcPlan struct {
	key  string
	svc  *corev1.Service
	live *api.ServiceRecord
	rec  api.ServiceRecord // the record to store (valid unless problem != "")
	// problem makes the Service Degraded: nothing is allocated and the live record
	// (if any) is left as it is.
	problem string
}

// reconcileServices allocates ClusterIPs and NodePorts and prunes Services removed
// from Git. Allocations are sticky: a Service keeps its IP and node ports across
// revisions unless Git asks for different ones. An explicit clusterIP or nodePort
// already held by another Service is refused (Degraded + a Warning event); the holder
// keeps it, so a commit can never steal a live Service's address.
func (p *planner) reconcileServices() {
	live := map[string]*api.ServiceRecord{}
	for i := range p.in.Services {
		s := &p.in.Services[i]
		live[s.Key()] = s
	}
	var plans []*svcPlan
	desired := map[string]bool{}
	for i := range p.in.Desired.Objects.Services {
		s := &p.in.Desired.Objects.Services[i]
		sp := &svcPlan{key: api.Key("Service", namespaceOf(s.Namespace), s.Name), svc: s}
		sp.live = live[sp.key]
		sp.rec = api.ServiceRecord{Namespace: namespaceOf(s.Namespace), Name: s.Name, Spec: *s.Spec.DeepCopy()}
		desired[sp.key] = true
		plans = append(plans, sp)
	}
	slices.SortFunc(plans, func(a, b *svcPlan) int { return cmp.Compare(a.key, b.key) })

	p.allocateClusterIPs(plans)
	p.allocateNodePorts(plans)

	p.svcProblems = map[string]string{}
	for _, sp := range plans {
		if sp.problem != "" {
			p.svcProblems[sp.key] = sp.problem
			continue
		}
		if sp.live != nil && equality.Semantic.DeepEqual(sp.live.Spec, sp.rec.Spec) {
			continue
		}
		p.changes.UpsertServices = append(p.changes.UpsertServices, sp.rec)
		msg := describeService(&sp.rec)
		reason := "ServiceCreated"
		if sp.live != nil {
			reason = "ServiceUpdated"
		}
		p.event(api.EventNormal, sp.key, reason, "", "%s", msg)
		p.action(Action{Type: ActService, Object: sp.key, Message: msg})
	}
	keys := make([]string, 0, len(live))
	for k := range live {
		if !desired[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p.changes.DeleteServices = append(p.changes.DeleteServices, k)
		p.event(api.EventNormal, k, "Pruned", "", "service %s removed from Git", k)
		p.action(Action{Type: ActPruneService, Object: k, Message: "removed from Git"})
	}
}

func describeService(r *api.ServiceRecord) string {
	s := fmt.Sprintf("%s clusterIP %s", cmp.Or(r.Spec.Type, corev1.ServiceTypeClusterIP), cmp.Or(r.Spec.ClusterIP, "none"))
	if r.Spec.Type == corev1.ServiceTypeExternalName {
		return "ExternalName " + r.Spec.ExternalName
	}
	for _, pt := range r.Spec.Ports {
		if pt.NodePort != 0 {
			s += fmt.Sprintf(", nodePort %d→%d", pt.NodePort, pt.Port)
		}
	}
	return s
}

// wantsIP reports whether a service type gets a ClusterIP at all.
func wantsIP(s *corev1.ServiceSpec) bool {
	return s.Type != corev1.ServiceTypeExternalName && s.ClusterIP != corev1.ClusterIPNone
}

func (p *planner) allocateClusterIPs(plans []*svcPlan) {
	cidr, err := netip.ParsePrefix(p.cfg.ServiceCIDR)
	if err != nil || !cidr.Addr().Is4() {
		for _, sp := range plans {
			if wantsIP(&sp.svc.Spec) {
				sp.problem = fmt.Sprintf("invalid service CIDR %q", p.cfg.ServiceCIDR)
			}
		}
		return
	}
	cidr = cidr.Masked()
	holder := map[string]string{} // IP → service key
	// Live allocations that stay: the Service still wants an IP and Git does not ask
	// for another one.
	for _, sp := range plans {
		if sp.live == nil || !wantsIP(&sp.svc.Spec) {
			continue
		}
		ip := sp.live.Spec.ClusterIP
		if a, err := netip.ParseAddr(ip); err == nil && (sp.svc.Spec.ClusterIP == "" || sp.svc.Spec.ClusterIP == ip) && a.IsValid() {
			holder[ip] = sp.key
		}
	}
	var auto []*svcPlan
	for _, sp := range plans {
		spec := &sp.rec.Spec
		switch {
		case spec.Type == corev1.ServiceTypeExternalName:
			spec.ClusterIP, spec.ClusterIPs = "", nil
		case spec.ClusterIP == corev1.ClusterIPNone:
			spec.ClusterIPs = []string{corev1.ClusterIPNone}
		case spec.ClusterIP != "":
			a, err := netip.ParseAddr(spec.ClusterIP)
			switch {
			case err != nil || !cidr.Contains(a):
				sp.problem = fmt.Sprintf("spec.clusterIP %s is not in the service range %s", spec.ClusterIP, cidr)
			case holder[spec.ClusterIP] != "" && holder[spec.ClusterIP] != sp.key:
				sp.problem = fmt.Sprintf("spec.clusterIP %s is already allocated to %s", spec.ClusterIP, holder[spec.ClusterIP])
			default:
				holder[spec.ClusterIP] = sp.key
				spec.ClusterIPs = []string{spec.ClusterIP}
			}
		case sp.live != nil && holder[sp.live.Spec.ClusterIP] == sp.key:
			spec.ClusterIP, spec.ClusterIPs = sp.live.Spec.ClusterIP, []string{sp.live.Spec.ClusterIP}
		default:
			auto = append(auto, sp)
		}
	}
	base := ipv4ToUint(cidr.Addr())
	size := uint64(1) << (32 - cidr.Bits())
	next := uint64(firstServiceIPOffset)
	for _, sp := range auto {
		for ; next < size-1; next++ { // size-1: the broadcast address
			if holder[uintToIPv4(base+uint32(next)).String()] == "" {
				break
			}
		}
		if next >= size-1 {
			sp.problem = "no free ClusterIP in " + cidr.String()
			continue
		}
		ip := uintToIPv4(base + uint32(next)).String()
		holder[ip] = sp.key
		sp.rec.Spec.ClusterIP, sp.rec.Spec.ClusterIPs = ip, []string{ip}
	}
}

// portKey matches a Service port across revisions: by name, or by number/protocol
// for an unnamed port.
func portKey(pt *corev1.ServicePort) string {
	if pt.Name != "" {
		return "name:" + pt.Name
	}
	return fmt.Sprintf("%s/%d", cmp.Or(pt.Protocol, corev1.ProtocolTCP), pt.Port)
}

func wantsNodePorts(s *corev1.ServiceSpec) bool {
	return s.Type == corev1.ServiceTypeNodePort || s.Type == corev1.ServiceTypeLoadBalancer
}

func (p *planner) allocateNodePorts(plans []*svcPlan) {
	type ref struct {
		sp  *svcPlan
		idx int
	}
	holder := map[int32]string{}
	keep := map[string]map[string]int32{} // service key → port key → live node port
	for _, sp := range plans {
		if sp.live == nil || !wantsNodePorts(&sp.svc.Spec) || !wantsNodePorts(&sp.live.Spec) {
			continue
		}
		for i := range sp.live.Spec.Ports {
			pt := &sp.live.Spec.Ports[i]
			if pt.NodePort == 0 {
				continue
			}
			if keep[sp.key] == nil {
				keep[sp.key] = map[string]int32{}
			}
			keep[sp.key][portKey(pt)] = pt.NodePort
			holder[pt.NodePort] = sp.key
		}
	}
	var auto []ref
	for _, sp := range plans {
		if sp.problem != "" {
			continue
		}
		if !wantsNodePorts(&sp.rec.Spec) {
			for i := range sp.rec.Spec.Ports {
				sp.rec.Spec.Ports[i].NodePort = 0
			}
			continue
		}
		for i := range sp.rec.Spec.Ports {
			pt := &sp.rec.Spec.Ports[i]
			switch {
			case pt.NodePort != 0 && (pt.NodePort < p.cfg.NodePortMin || pt.NodePort > p.cfg.NodePortMax):
				sp.problem = fmt.Sprintf("spec.ports[%d].nodePort %d is outside the range %d-%d", i, pt.NodePort, p.cfg.NodePortMin, p.cfg.NodePortMax)
			case pt.NodePort != 0 && holder[pt.NodePort] != "" && holder[pt.NodePort] != sp.key:
				sp.problem = fmt.Sprintf("spec.ports[%d].nodePort %d is already allocated to %s", i, pt.NodePort, holder[pt.NodePort])
			case pt.NodePort != 0:
				holder[pt.NodePort] = sp.key
			case keep[sp.key][portKey(pt)] != 0:
				pt.NodePort = keep[sp.key][portKey(pt)]
			default:
				auto = append(auto, ref{sp, i})
			}
		}
	}
	next := p.cfg.NodePortMin
	for _, r := range auto {
		if r.sp.problem != "" {
			continue
		}
		for ; next <= p.cfg.NodePortMax && holder[next] != ""; next++ {
		}
		if next > p.cfg.NodePortMax {
			r.sp.problem = fmt.Sprintf("no free nodePort in %d-%d", p.cfg.NodePortMin, p.cfg.NodePortMax)
			continue
		}
		holder[next] = r.sp.key
		r.sp.rec.Spec.Ports[r.idx].NodePort = next
	}
}
