package reconciler

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// Scoring uses Kubernetes' "non-zero" requests: a pod that requests nothing still
// counts as a small amount, so least-allocated ranking spreads such pods instead of
// piling them onto the first node by name.
const (
	defaultScoreMilliCPU = 100
	defaultScoreMemory   = 200 << 20
)

// podRequests is the effective request of a pod spec: the larger of the sum over
// containers and the largest init container (as Kubernetes computes it). A container
// without requests but with limits requests its limits.
func podRequests(spec *corev1.PodSpec) (req, score api.Resources) {
	one := func(c *corev1.Container) (api.Resources, api.Resources) {
		var r api.Resources
		cpu, okc := c.Resources.Requests[corev1.ResourceCPU]
		if !okc {
			cpu, okc = c.Resources.Limits[corev1.ResourceCPU]
		}
		mem, okm := c.Resources.Requests[corev1.ResourceMemory]
		if !okm {
			mem, okm = c.Resources.Limits[corev1.ResourceMemory]
		}
		if okc {
			r.MilliCPU = api.QuantityMilli(cpu)
		}
		if okm {
			r.MemoryBytes = api.QuantityValue(mem)
		}
		s := r
		if s.MilliCPU == 0 {
			s.MilliCPU = defaultScoreMilliCPU
		}
		if s.MemoryBytes == 0 {
			s.MemoryBytes = defaultScoreMemory
		}
		return r, s
	}
	for i := range spec.Containers {
		r, s := one(&spec.Containers[i])
		req, score = req.Add(r), score.Add(s)
	}
	for i := range spec.InitContainers {
		r, s := one(&spec.InitContainers[i])
		req.MilliCPU, req.MemoryBytes = max(req.MilliCPU, r.MilliCPU), max(req.MemoryBytes, r.MemoryBytes)
		score.MilliCPU, score.MemoryBytes = max(score.MilliCPU, s.MilliCPU), max(score.MemoryBytes, s.MemoryBytes)
	}
	return req, score
}

// hostPort is one port a pod binds on its node.
type hostPort struct {
	proto corev1.Protocol
	port  int32
}

func (h hostPort) String() string { return string(h.proto) + "/" + strconv.Itoa(int(h.port)) }

func podHostPorts(spec *corev1.PodSpec) []hostPort {
	var out []hostPort
	for i := range spec.Containers {
		for _, p := range spec.Containers[i].Ports {
			if p.HostPort != 0 {
				out = append(out, hostPort{proto: cmp.Or(p.Protocol, corev1.ProtocolTCP), port: p.HostPort})
			}
		}
	}
	return out
}

// selectorMatches reports whether every pair of sel is in labels. An empty selector
// matches nothing: it is never meant to select every pod.
func selectorMatches(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// subsetOf is selectorMatches without the empty-selector rule (nodeSelector: empty
// means any node).
func subsetOf(sel, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// restarts sums the container restart counts of a pod.
func restarts(p *api.PodRecord) int32 {
	var n int32
	for _, c := range p.Status.Containers {
		n += c.RestartCount
	}
	return n
}

// crashLooping reports whether any container is in CrashLoopBackOff.
func crashLooping(p *api.PodRecord) bool {
	for _, c := range p.Status.Containers {
		if c.Reason == api.ReasonCrashLoopBackOff {
			return true
		}
	}
	return p.Status.Reason == api.ReasonCrashLoopBackOff
}

func namespaceOf(ns string) string { return cmp.Or(ns, api.DefaultNamespace) }

// maxGeneratedBase is the longest base of a generated pod name: 63 characters less
// "-" and the 5-character suffix.
const maxGeneratedBase = 63 - 1 - 5

// truncateBase cuts a generated name's base to maxGeneratedBase, dropping a '-' or '.'
// left at the cut so that the name stays a valid DNS subdomain.
func truncateBase(base string) string {
	if len(base) <= maxGeneratedBase {
		return base
	}
	return strings.TrimRight(base[:maxGeneratedBase], "-.")
}
