package printers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// NodeUsage is what is requested on a node, for the nodes table.
type NodeUsage struct {
	Pods      int
	Requested api.Resources
}

// UsageByNode sums the requests of the pods that run (Desire Run) on each node, the
// way the scheduler accounts for them.
func UsageByNode(pods []api.PodRecord) map[string]NodeUsage {
	out := map[string]NodeUsage{}
	for i := range pods {
		p := &pods[i]
		if p.Node == "" || p.Desire != api.DesireRun {
			continue
		}
		u := out[p.Node]
		u.Pods++
		u.Requested = u.Requested.Add(Requests(&p.Spec))
		out[p.Node] = u
	}
	return out
}

// Requests is the effective request of a pod spec as Kubernetes computes it: the sum
// over containers, at least the largest init container, and a container's limits when
// it declares no request.
func Requests(spec *corev1.PodSpec) api.Resources {
	one := func(c *corev1.Container) api.Resources {
		cpu, ok := c.Resources.Requests[corev1.ResourceCPU]
		if !ok {
			cpu = c.Resources.Limits[corev1.ResourceCPU]
		}
		mem, ok := c.Resources.Requests[corev1.ResourceMemory]
		if !ok {
			mem = c.Resources.Limits[corev1.ResourceMemory]
		}
		return api.Resources{MilliCPU: cpu.MilliValue(), MemoryBytes: mem.Value()}
	}
	var r api.Resources
	for i := range spec.Containers {
		r = r.Add(one(&spec.Containers[i]))
	}
	for i := range spec.InitContainers {
		ic := one(&spec.InitContainers[i])
		r.MilliCPU, r.MemoryBytes = max(r.MilliCPU, ic.MilliCPU), max(r.MemoryBytes, ic.MemoryBytes)
	}
	return r
}

// NodeStatusText is the STATUS column of a node.
func NodeStatusText(n *api.Node) string {
	if n.Unschedulable {
		return string(n.Status) + ",SchedulingDisabled"
	}
	return string(n.Status)
}

// Nodes renders `keelson get nodes` with requested/allocatable cpu and memory.
func Nodes(nodes []api.Node, usage map[string]NodeUsage, o Options) *Table {
	t := &Table{}
	hdr := []string{"NAME", "STATUS", "PODS", "CPU", "MEMORY", "AGE"}
	if o.Wide {
		hdr = append(hdr, "ADDRESS", "POD-CIDR", "LABELS")
	}
	t.Row(hdr...)
	for i := range nodes {
		t.Row(NodeRow(&nodes[i], usage[nodes[i].Name], o)...)
	}
	return t
}

// NodeRow is one node's row.
func NodeRow(n *api.Node, u NodeUsage, o Options) []string {
	row := []string{n.Name, NodeStatusText(n), strconv.Itoa(u.Pods),
		fmt.Sprintf("%dm/%dm", u.Requested.MilliCPU, n.Allocatable.MilliCPU),
		fmt.Sprintf("%s/%s", Bytes(u.Requested.MemoryBytes), Bytes(n.Allocatable.MemoryBytes)),
		Age(o.Now, n.RegisteredAt)}
	if o.Wide {
		row = append(row, orNone(n.Address), orNone(n.PodCIDR), orNone(Labels(n.Labels)))
	}
	return row
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
