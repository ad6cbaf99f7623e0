package printers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// PodStatusText is the STATUS column of a pod, as kubectl shows it: the most telling
// of Terminating, a container's waiting/terminated reason, Pending, or the phase.
func PodStatusText(p *api.PodRecord) string {
	if p.Desire == api.DesireStop {
		return "Terminating"
	}
	if p.Status.Reason == "NodeLost" || p.Status.Reason == "Unschedulable" {
		return p.Status.Reason
	}
	for _, c := range p.Status.Containers {
		if c.State == api.ContainerWaiting && c.Reason != "" {
			return c.Reason
		}
		if c.State == api.ContainerTerminated && c.Reason != "" && p.Status.Phase != corev1.PodSucceeded {
			return c.Reason
		}
	}
	if p.Node == "" || p.Status.Phase == "" {
		return string(corev1.PodPending)
	}
	return string(p.Status.Phase)
}

func podReadyText(p *api.PodRecord) string {
	ready := 0
	for _, c := range p.Status.Containers {
		if c.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
}

func podRestarts(p *api.PodRecord) int32 {
	var n int32
	for _, c := range p.Status.Containers {
		n += c.RestartCount
	}
	return n
}

// Pods renders `keelson get pods`.
func Pods(pods []api.PodRecord, now time.Time, wide, allNamespaces bool) *Table {
	t := &Table{}
	hdr := []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}
	if allNamespaces {
		hdr = append([]string{"NAMESPACE"}, hdr...)
	}
	if wide {
		hdr = append(hdr, "IP", "NODE", "COMMIT")
	}
	t.Row(hdr...)
	for i := range pods {
		p := &pods[i]
		row := []string{p.Name, podReadyText(p), PodStatusText(p), strconv.Itoa(int(podRestarts(p))), Age(now, p.CreatedAt)}
		if allNamespaces {
			row = append([]string{p.Namespace}, row...)
		}
		if wide {
			row = append(row, orNone(p.Status.PodIP), orNone(p.Node), orNone(Short(p.Commit)))
		}
		t.Row(row...)
	}
	return t
}

// NodeUsage is what is requested on a node, for the nodes table.
type NodeUsage struct {
	Pods      int
	Requested api.Resources
}

// Nodes renders `keelson get nodes`.
func Nodes(nodes []api.Node, usage map[string]NodeUsage, now time.Time, wide bool) *Table {
	t := &Table{}
	hdr := []string{"NAME", "STATUS", "PODS", "CPU", "MEMORY", "AGE"}
	if wide {
		hdr = append(hdr, "ADDRESS", "POD-CIDR", "LABELS")
	}
	t.Row(hdr...)
	for _, n := range nodes {
		u := usage[n.Name]
		status := string(n.Status)
		if n.Unschedulable {
			status += ",SchedulingDisabled"
		}
		row := []string{n.Name, status, strconv.Itoa(u.Pods),
			fmt.Sprintf("%dm/%dm", u.Requested.MilliCPU, n.Allocatable.MilliCPU),
			fmt.Sprintf("%s/%s", Bytes(u.Requested.MemoryBytes), Bytes(n.Allocatable.MemoryBytes)),
			Age(now, n.RegisteredAt)}
		if wide {
			row = append(row, n.Address, orNone(n.PodCIDR), orNone(Labels(n.Labels)))
		}
		t.Row(row...)
	}
	return t
}

// Bytes formats a memory size in binary units (Ki, Mi, Gi) like Kubernetes quantities.
func Bytes(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGi", b>>30)
	case b >= 1<<30:
		return fmt.Sprintf("%.1fGi", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%dMi", b>>20)
	case b >= 1<<10:
		return fmt.Sprintf("%dKi", b>>10)
	default:
		return strconv.FormatInt(b, 10)
	}
}

// Labels formats a label map as k=v,k=v in key order.
func Labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// ServicePorts formats ports like kubectl: 80/TCP, 80:30080/TCP.
func ServicePorts(spec *corev1.ServiceSpec) string {
	parts := make([]string, 0, len(spec.Ports))
	for _, p := range spec.Ports {
		s := strconv.Itoa(int(p.Port))
		if p.NodePort != 0 {
			s += ":" + strconv.Itoa(int(p.NodePort))
		}
		parts = append(parts, s+"/"+string(p.Protocol))
	}
	return orNone(strings.Join(parts, ","))
}

// Services renders `keelson get services`.
func Services(svcs []api.ServiceView, wide bool) *Table {
	t := &Table{}
	hdr := []string{"NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "ENDPOINTS"}
	if wide {
		hdr = append(hdr, "SELECTOR", "SOURCE")
	}
	t.Row(hdr...)
	for i := range svcs {
		s := &svcs[i]
		ready, total := 0, 0
		for _, e := range s.Endpoints {
			total++
			if e.Ready {
				ready++
			}
		}
		ip := s.Spec.ClusterIP
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			ip = s.Spec.ExternalName
		}
		row := []string{s.Name, string(s.Spec.Type), orNone(ip), ServicePorts(&s.Spec), fmt.Sprintf("%d/%d", ready, total)}
		if wide {
			row = append(row, orNone(Labels(s.Spec.Selector)), sourceText(s.Source))
		}
		t.Row(row...)
	}
	return t
}

func sourceText(s api.Source) string {
	if s.File == "" {
		return "<none>"
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// RCs renders `keelson get rc`.
func RCs(rcs []api.RCView, wide bool) *Table {
	t := &Table{}
	hdr := []string{"NAME", "DESIRED", "CURRENT", "READY", "SYNC", "HEALTH"}
	if wide {
		hdr = append(hdr, "IMAGES", "SELECTOR", "SOURCE")
	}
	t.Row(hdr...)
	for _, r := range rcs {
		row := []string{r.Name, strconv.Itoa(int(r.Replicas)), strconv.Itoa(int(r.Current)), strconv.Itoa(int(r.Ready)),
			orNone(string(r.Status.Sync)), orNone(string(r.Status.Health))}
		if wide {
			row = append(row, orNone(strings.Join(r.Images, ",")), orNone(Labels(r.Selector)), sourceText(r.Source))
		}
		t.Row(row...)
	}
	return t
}

// Events renders `keelson events`.
func Events(evs []api.Event, now time.Time) *Table {
	t := &Table{}
	t.Row("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	for _, e := range evs {
		t.Row(Age(now, e.Time), string(e.Type), e.Reason, e.Object, e.Message)
	}
	return t
}
