package printers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// ServicePorts formats ports like kubectl: 80/TCP, 80:30080/TCP.
func ServicePorts(spec *corev1.ServiceSpec) string {
	parts := make([]string, 0, len(spec.Ports))
	for _, p := range spec.Ports {
		s := strconv.Itoa(int(p.Port))
		if p.NodePort != 0 {
			s += ":" + strconv.Itoa(int(p.NodePort))
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		parts = append(parts, s+"/"+string(proto))
	}
	return orNone(strings.Join(parts, ","))
}

// EndpointPods counts the distinct pods behind a service and how many are ready: an
// Endpoint is one pod *per port*, and people think in pods.
func EndpointPods(eps []api.Endpoint) (ready, total int) {
	seen := map[string]bool{}
	for _, e := range eps {
		if seen[e.PodUID] {
			continue
		}
		seen[e.PodUID] = true
		total++
		if e.Ready {
			ready++
		}
	}
	return ready, total
}

// Services renders `keelson get services`; ENDPOINTS is ready/total backend pods.
func Services(svcs []api.ServiceView, o Options) *Table {
	t := &Table{}
	hdr := []string{"NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "ENDPOINTS"}
	if o.Wide {
		hdr = append(hdr, "SELECTOR", "SOURCE")
	}
	t.Row(o.withNamespace("NAMESPACE", hdr)...)
	for i := range svcs {
		t.Row(o.withNamespace(svcs[i].Namespace, ServiceRow(&svcs[i], o))...)
	}
	return t
}

// ServiceRow is one service's row without the namespace column.
func ServiceRow(s *api.ServiceView, o Options) []string {
	ready, total := EndpointPods(s.Endpoints)
	typ := s.Spec.Type
	if typ == "" {
		typ = corev1.ServiceTypeClusterIP
	}
	ip := s.Spec.ClusterIP
	if typ == corev1.ServiceTypeExternalName {
		ip = s.Spec.ExternalName
	}
	row := []string{s.Name, string(typ), orNone(ip), ServicePorts(&s.Spec), fmt.Sprintf("%d/%d", ready, total)}
	if o.Wide {
		row = append(row, orNone(Labels(s.Spec.Selector)), SourceText(s.Source))
	}
	return row
}

// SourceText formats where an object is defined in Git: file:line.
func SourceText(s api.Source) string {
	switch {
	case s.File == "":
		return "<none>"
	case s.Line == 0:
		return s.File
	default:
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	}
}

// RCs renders `keelson get rc`.
func RCs(rcs []api.RCView, o Options) *Table {
	t := &Table{}
	hdr := []string{"NAME", "DESIRED", "CURRENT", "READY", "SYNC", "HEALTH"}
	if o.Wide {
		hdr = append(hdr, "IMAGES", "SELECTOR", "SOURCE")
	}
	t.Row(o.withNamespace("NAMESPACE", hdr)...)
	for i := range rcs {
		t.Row(o.withNamespace(rcs[i].Namespace, RCRow(&rcs[i], o))...)
	}
	return t
}

// RCRow is one replication controller's row without the namespace column.
func RCRow(r *api.RCView, o Options) []string {
	row := []string{r.Name, strconv.Itoa(int(r.Replicas)), strconv.Itoa(int(r.Current)), strconv.Itoa(int(r.Ready)),
		orNone(string(r.Status.Sync)), orNone(string(r.Status.Health))}
	if o.Wide {
		row = append(row, orNone(strings.Join(r.Images, ",")), orNone(Labels(r.Selector)), SourceText(r.Source))
	}
	return row
}
