package dns

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// DefaultDomain is the cluster domain when the servers do not say (Kubernetes' default).
const DefaultDomain = "cluster.local"

// TTL is the TTL of every cluster record, in seconds: CoreDNS's default for the
// kubernetes plugin. Short, because endpoints change under rollouts.
const TTL = 5

// Index is an immutable snapshot of the cluster records of one view. The server swaps
// whole indexes, so a lookup never sees half of a view.
type Index struct {
	zone  string           // "cluster.local." (lowercase, fully qualified)
	names map[string]*name // every name that exists in the zone, empty non-terminals too
	ptr   map[string]string
}

// name is the data at one owner name. A name with no data is an empty non-terminal
// (it exists: NODATA, not NXDOMAIN).
type name struct {
	a     []netip.Addr
	srv   []srv
	cname string // ExternalName target, fully qualified
}

type srv struct {
	target string
	port   uint16
}

// Build indexes services and their endpoints under domain ("" = DefaultDomain),
// following the Kubernetes DNS specification:
//
//   - svc.ns.svc.zone: A = ClusterIP; for a headless Service, one A per ready pod
//     (or every pod with publishNotReadyAddresses); ExternalName: CNAME.
//   - _port._proto.svc.ns.svc.zone: SRV per named port (target the service name, or
//     each pod's name for a headless Service).
//   - host.svc.ns.svc.zone for a headless Service's pods: host is the pod's
//     spec.hostname when its spec.subdomain names the Service, else its dashed IP.
//   - a-b-c-d.ns.pod.zone answers that IP (CoreDNS "pods insecure"), computed at query
//     time.
//   - PTR for ClusterIPs and headless pod IPs.
func Build(domain string, services []api.ServiceRecord, endpoints []api.Endpoints) *Index {
	zone := mdns.CanonicalName(cmp.Or(domain, DefaultDomain))
	x := &Index{zone: zone, names: map[string]*name{}, ptr: map[string]string{}}
	x.node(zone)
	x.node("svc." + zone)
	x.node("pod." + zone)
	eps := make(map[string]*api.Endpoints, len(endpoints))
	for i := range endpoints {
		eps[endpoints[i].Namespace+"/"+endpoints[i].Name] = &endpoints[i]
	}
	for i := range services {
		s := &services[i]
		ns := cmp.Or(s.Namespace, "default")
		base := strings.ToLower(s.Name + "." + ns + ".svc." + zone)
		n := x.node(base)
		x.node(strings.ToLower(ns + ".pod." + zone))
		switch {
		case s.Spec.Type == corev1.ServiceTypeExternalName:
			if s.Spec.ExternalName != "" {
				n.cname = mdns.CanonicalName(s.Spec.ExternalName)
			}
		case s.Spec.ClusterIP == corev1.ClusterIPNone:
			x.headless(base, s, eps[ns+"/"+s.Name])
		default:
			ip, err := netip.ParseAddr(s.Spec.ClusterIP)
			if err != nil {
				continue // not allocated yet: the name exists with no address
			}
			n.a = []netip.Addr{ip}
			x.addPTR(ip, base)
			for _, p := range s.Spec.Ports {
				if p.Name != "" {
					x.addSRV(base, p.Name, p.Protocol, srv{target: base, port: uint16(p.Port)})
				}
			}
		}
	}
	for _, n := range x.names {
		slices.SortFunc(n.a, func(a, b netip.Addr) int { return a.Compare(b) })
		n.a = slices.Compact(n.a)
		slices.SortFunc(n.srv, func(a, b srv) int {
			return cmp.Or(strings.Compare(a.target, b.target), int(a.port)-int(b.port))
		})
		n.srv = slices.Compact(n.srv)
	}
	return x
}

// headless adds a headless Service's pod records.
func (x *Index) headless(base string, s *api.ServiceRecord, ep *api.Endpoints) {
	if ep == nil {
		return
	}
	for _, e := range ep.Ports {
		if !e.Ready && !s.Spec.PublishNotReadyAddresses {
			continue
		}
		ip, err := netip.ParseAddr(e.IP)
		if err != nil {
			continue
		}
		host := strings.ToLower(e.Hostname)
		if host == "" {
			host = dashed(ip)
		}
		target := host + "." + base
		x.node(base).a = append(x.node(base).a, ip)
		x.node(target).a = append(x.node(target).a, ip)
		x.addPTR(ip, target)
		if e.ServicePort != "" {
			x.addSRV(base, e.ServicePort, e.Protocol, srv{target: target, port: uint16(e.Port)})
		}
	}
}

// addSRV adds the record at _port._proto.base and, as CoreDNS does, at base itself.
func (x *Index) addSRV(base, port string, proto corev1.Protocol, r srv) {
	owner := "_" + strings.ToLower(port) + "._" + strings.ToLower(string(cmp.Or(proto, corev1.ProtocolTCP))) + "." + base
	x.node(owner).srv = append(x.node(owner).srv, r)
	x.node(base).srv = append(x.node(base).srv, r)
}

func (x *Index) addPTR(ip netip.Addr, target string) {
	rev, err := mdns.ReverseAddr(ip.String())
	if err != nil {
		return
	}
	if _, taken := x.ptr[rev]; !taken { // the first (service name before pod names) wins
		x.ptr[rev] = target
	}
}

// node returns the name's data, creating it and its ancestors up to the zone.
func (x *Index) node(owner string) *name {
	if n := x.names[owner]; n != nil {
		return n
	}
	n := &name{}
	x.names[owner] = n
	for p := owner; p != x.zone; {
		i := strings.IndexByte(p, '.')
		if i < 0 || i == len(p)-1 {
			break
		}
		p = p[i+1:]
		if _, ok := x.names[p]; ok {
			break
		}
		x.names[p] = &name{}
	}
	return n
}

// Zone is the cluster zone, lowercase and fully qualified ("cluster.local.").
func (x *Index) Zone() string { return x.zone }

// InZone reports whether qname (lowercase, fully qualified) is the index's to answer.
func (x *Index) InZone(qname string) bool { return mdns.IsSubDomain(x.zone, qname) }

// lookup returns the data at qname (lowercase, fully qualified) and whether the name
// exists. Pod names (a-b-c-d.ns.pod.zone) exist for any namespace.
func (x *Index) lookup(qname string) (*name, bool) {
	if n, ok := x.names[qname]; ok {
		return n, true
	}
	rest, ok := strings.CutSuffix(qname, ".pod."+x.zone)
	if !ok {
		return nil, false
	}
	labels := strings.Split(rest, ".")
	switch len(labels) {
	case 1: // a namespace without services
		return &name{}, true
	case 2:
		if ip, ok := undashed(labels[0]); ok {
			return &name{a: []netip.Addr{ip}}, true
		}
	}
	return nil, false
}

// reverse returns the PTR target of a reverse name (lowercase, fully qualified).
func (x *Index) reverse(qname string) (string, bool) {
	t, ok := x.ptr[qname]
	return t, ok
}

// dashed writes an IPv4 address as a DNS label: 10.244.0.5 → 10-244-0-5.
func dashed(ip netip.Addr) string {
	return strings.ReplaceAll(ip.String(), ".", "-")
}

func undashed(label string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
	return ip, err == nil && ip.Is4()
}
