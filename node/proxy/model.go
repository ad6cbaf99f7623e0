package proxy

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// defaultAffinityTimeout is Kubernetes' default for sessionAffinity ClientIP (3 hours).
const defaultAffinityTimeout = 10800 * time.Second

// servicePort is one proxied (Service, port) pair: the unit both data paths program.
type servicePort struct {
	// ID is "namespace/name/protocol/port", unique per node and stable across syncs.
	ID        string
	ClusterIP netip.Addr
	Port      uint16
	Protocol  corev1.Protocol // TCP, UDP or SCTP
	NodePort  uint16          // 0 when the Service has none
	// Affinity is the ClientIP affinity timeout; 0 means no affinity.
	Affinity time.Duration
	// Backends are the ready endpoints, sorted, without duplicates.
	Backends []backend
}

// backend is one ready endpoint of a service port.
type backend struct {
	IP   netip.Addr
	Port uint16
}

func (b backend) String() string { return netip.AddrPortFrom(b.IP, b.Port).String() }

// proxied reports whether a Service gets a virtual IP at all: headless services
// (ClusterIP "None") are resolved by DNS to pod IPs and ExternalName services are DNS
// aliases, so neither is proxied.
func proxied(svc *api.ServiceRecord) bool {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return false
	}
	ip := svc.Spec.ClusterIP
	return ip != "" && ip != corev1.ClusterIPNone
}

// protocolOf defaults an empty protocol to TCP, as the API server does.
func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// buildModel turns the replicated records into the list of service ports to program,
// sorted by ID. Records that cannot be programmed (an unparsable IP, an IPv6 address
// this IPv4 proxy cannot serve) are reported in skipped rather than failing the whole
// sync: one bad record must not take every other Service down.
func buildModel(services []api.ServiceRecord, endpoints []api.Endpoints) (ports []servicePort, skipped []error) {
	eps := make(map[string]*api.Endpoints, len(endpoints))
	for i := range endpoints {
		eps[endpoints[i].Namespace+"/"+endpoints[i].Name] = &endpoints[i]
	}
	for i := range services {
		svc := &services[i]
		if !proxied(svc) {
			continue
		}
		cip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !cip.Is4() {
			skipped = append(skipped, fmt.Errorf("service %s/%s: clusterIP %q is not an IPv4 address", svc.Namespace, svc.Name, svc.Spec.ClusterIP))
			continue
		}
		var affinity time.Duration
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = defaultAffinityTimeout
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
				affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
			}
		}
		for _, p := range svc.Spec.Ports {
			proto := protocolOf(p.Protocol)
			if p.Port <= 0 || p.Port > 65535 || p.NodePort < 0 || p.NodePort > 65535 {
				skipped = append(skipped, fmt.Errorf("service %s/%s: port %d/nodePort %d out of range", svc.Namespace, svc.Name, p.Port, p.NodePort))
				continue
			}
			sp := servicePort{
				ID:        fmt.Sprintf("%s/%s/%s/%d", svc.Namespace, svc.Name, lower(proto), p.Port),
				ClusterIP: cip,
				Port:      uint16(p.Port),
				Protocol:  proto,
				NodePort:  uint16(p.NodePort),
				Affinity:  affinity,
			}
			if e := eps[svc.Namespace+"/"+svc.Name]; e != nil {
				sp.Backends = readyBackends(e, p.Name, proto)
			}
			ports = append(ports, sp)
		}
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].ID < ports[j].ID })
	return ports, skipped
}

// readyBackends selects the ready endpoints of one service port. Not-ready endpoints get
// no new traffic; connections already established to them are left to conntrack (or to
// the userspace copy loop) and drain naturally.
func readyBackends(e *api.Endpoints, portName string, proto corev1.Protocol) []backend {
	seen := map[backend]bool{}
	var out []backend
	for _, ep := range e.Ports {
		if !ep.Ready || ep.ServicePort != portName || protocolOf(ep.Protocol) != proto {
			continue
		}
		ip, err := netip.ParseAddr(ep.IP)
		if err != nil || !ip.Is4() || ep.Port <= 0 || ep.Port > 65535 {
			continue
		}
		b := backend{IP: ip, Port: uint16(ep.Port)}
		if !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].IP.Compare(out[j].IP); c != 0 {
			return c < 0
		}
		return out[i].Port < out[j].Port
	})
	return out
}

func lower(p corev1.Protocol) string {
	switch p {
	case corev1.ProtocolTCP:
		return "tcp"
	case corev1.ProtocolUDP:
		return "udp"
	case corev1.ProtocolSCTP:
		return "sctp"
	}
	return string(p)
}
