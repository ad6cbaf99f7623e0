package planview

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/cli/printers"
	"github.com/keelson/keelson/reconciler"
	corev1 "k8s.io/api/core/v1"
)

// Consequences is what the reconciler would do to reach the head revision, step by
// step until the cluster would be converged, assuming every started pod becomes ready.
type Consequences struct {
	// Live says whether the preview ran against a live cluster's state (placements and
	// capacity are then real) or against an idealized one (no server given).
	Live bool `json:"live"`
	// Created are new pods that replace nothing (scale-up, a new RC or Pod).
	Created []PodChange `json:"created,omitempty"`
	// Stopped are pods stopped for good (scale-down, object removed from Git).
	Stopped []PodChange `json:"stopped,omitempty"`
	// Rolled are pods replaced because their template changed; Replacement names
	// the new pod.
	Rolled []PodChange `json:"rolled,omitempty"`
	// Pending are pods that would stay unscheduled when the simulation converges.
	Pending  []PodChange     `json:"pending,omitempty"`
	Services []ServiceChange `json:"services,omitempty"`
	Nodes    []NodeCapacity  `json:"nodes,omitempty"`
	// Steps is how many reconcile steps (raft batches) the change takes.
	Steps int `json:"steps"`
}

// Empty reports whether the cluster would do nothing.
func (c *Consequences) Empty() bool {
	return len(c.Created)+len(c.Stopped)+len(c.Rolled)+len(c.Pending)+len(c.Services) == 0
}

// PodChange is one pod the change creates, stops, rolls or cannot place.
type PodChange struct {
	Owner string `json:"owner"`
	Pod   string `json:"pod"`
	Node  string `json:"node,omitempty"`
	// Replacement and ReplacementNode name the new pod of a rolled one.
	Replacement     string `json:"replacement,omitempty"`
	ReplacementNode string `json:"replacementNode,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// ServiceChangeKind says what happens to a Service.
type ServiceChangeKind string

const (
	ServiceCreated   ServiceChangeKind = "created"
	ServiceUpdated   ServiceChangeKind = "updated"
	ServiceRemoved   ServiceChangeKind = "removed"
	ServiceEndpoints ServiceChangeKind = "endpoints" // only its backends change
)

// ServiceChange is a service whose allocation or ready backends change.
type ServiceChange struct {
	Key    string            `json:"key"`
	Change ServiceChangeKind `json:"change"`
	// Detail is the reconciler's account of the allocation (type, clusterIP, nodePorts).
	Detail string `json:"detail,omitempty"`
	// ClusterIP and NodePorts (in port order, 0 for a port without one) are the
	// allocation after the change, for created and updated services.
	ClusterIP string  `json:"clusterIP,omitempty"`
	NodePorts []int32 `json:"nodePorts,omitempty"`
	// ReadyBefore/ReadyAfter count ready backend pods; Added/Gone count backend pods
	// that join or leave (a roll replaces every backend: ready count equal, all new).
	ReadyBefore int `json:"readyBefore"`
	ReadyAfter  int `json:"readyAfter"`
	Added       int `json:"added"`
	Gone        int `json:"gone"`
}

// Summary is a one-line human account of the change.
func (s ServiceChange) Summary() string {
	var parts []string
	switch s.Change {
	case ServiceCreated:
		parts = append(parts, "created: "+s.Detail)
	case ServiceUpdated:
		parts = append(parts, "updated: "+s.Detail)
	case ServiceRemoved:
		return fmt.Sprintf("removed from Git: its address is released and traffic to it stops (%d ready backends before)", s.ReadyBefore)
	}
	if s.Added > 0 || s.Gone > 0 || s.ReadyBefore != s.ReadyAfter {
		parts = append(parts, fmt.Sprintf("ready backends %d → %d (%d new, %d gone)", s.ReadyBefore, s.ReadyAfter, s.Added, s.Gone))
	}
	return strings.Join(parts, "; ")
}

// NodeCapacity is what is requested on a node before and after the change.
type NodeCapacity struct {
	Node        string        `json:"node"`
	Allocatable api.Resources `json:"allocatable"`
	Before      api.Resources `json:"before"`
	After       api.Resources `json:"after"`
	PodsBefore  int           `json:"podsBefore"`
	PodsAfter   int           `json:"podsAfter"`
}

// virtualNode stands in for "some node" when the preview has no live cluster: large
// enough that placement never limits it, so the preview shows what Git asks for.
const virtualNode = "(any node)"

// maxSimSteps bounds a simulation; a converging change takes a handful of steps per
// rolled pod.
const maxSimSteps = 10_000

// PreviewConfig is the reconciler's default configuration with deterministic pod
// UIDs and name suffixes, so the same branch always previews the same pod names: a
// re-run of CI edits the PR comment to the same text. The counters live in the
// returned closures; use one Config per preview and from one goroutine.
func PreviewConfig() reconciler.Config {
	cfg := reconciler.DefaultConfig()
	var uids, names int
	cfg.NewUID = func() string {
		uids++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", uids)
	}
	cfg.NameSuffix = func() string {
		names++
		return suffix(names)
	}
	return cfg
}

// suffix spells n in Kubernetes' vowel-free name alphabet, 5 characters.
func suffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b [5]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = alphabet[n%len(alphabet)]
		n /= len(alphabet)
	}
	return string(b[:])
}

// IdealObserved is a converged cluster for base with no live server: one virtual node,
// base's pods all running and ready.
func IdealObserved(cfg reconciler.Config, base *api.Revision, now time.Time) (reconciler.Observed, error) {
	start := &reconciler.Records{Desired: base, NodeList: []api.Node{{
		Name: virtualNode, Address: "192.0.2.1", Status: api.NodeReady, RegisteredAt: now, StatusChangedAt: now,
		Capacity:    api.Resources{MilliCPU: 1 << 40, MemoryBytes: 1 << 60},
		Allocatable: api.Resources{MilliCPU: 1 << 40, MemoryBytes: 1 << 60},
	}}}
	final, _, err := reconciler.Simulate(cfg, reconciler.Observe(start, now, reconciler.BeatsFromStatus(cfg, now)), maxSimSteps)
	if err != nil {
		return final, fmt.Errorf("simulate base: %w", err)
	}
	return final, nil
}

// ComputeConsequences simulates the reconciler from live (the current cluster, or
// IdealObserved) to head and sorts what it did into created, stopped and rolled pods,
// pods left Pending, services that change, and (live only) node capacity.
func ComputeConsequences(cfg reconciler.Config, live reconciler.Observed, head *api.Revision, isLive bool) (Consequences, error) {
	in := live
	in.Desired = head
	final, steps, err := reconciler.Simulate(cfg, in, maxSimSteps)
	if err != nil {
		return Consequences{}, fmt.Errorf("simulate head: %w", err)
	}
	c := Consequences{Live: isLive, Steps: len(steps)}

	placed := map[string]string{} // pod UID → node
	ended := map[string]bool{}    // pod UIDs already counted as stopped or rolled
	for _, p := range live.Pods {
		if p.Desire == api.DesireStop {
			ended[p.UID] = true // already stopping: its removal is not this change's doing
		}
	}
	type newPod struct{ pod, uid string }
	created := map[string][]newPod{}
	rolled := map[string][]PodChange{}
	var owners []string
	svc := map[string]*ServiceChange{}
	for _, s := range steps {
		for _, a := range s.Actions {
			switch a.Type {
			case reconciler.ActSchedule:
				placed[a.PodUID] = a.Node
			case reconciler.ActCreatePod:
				if _, ok := created[a.Object]; !ok {
					owners = append(owners, a.Object)
				}
				created[a.Object] = append(created[a.Object], newPod{pod: a.Pod, uid: a.PodUID})
			case reconciler.ActRollPod:
				ended[a.PodUID] = true
				rolled[a.Object] = append(rolled[a.Object], PodChange{Owner: a.Object, Pod: a.Pod, Node: a.Node, Reason: a.Message})
			case reconciler.ActStopPod, reconciler.ActDeletePod:
				if ended[a.PodUID] {
					continue // the record's cleanup after a stop
				}
				ended[a.PodUID] = true
				pc := PodChange{Owner: a.Object, Pod: a.Pod, Node: a.Node, Reason: a.Message}
				if strings.HasPrefix(a.Message, "Replaced: spec of") {
					rolled[a.Object] = append(rolled[a.Object], pc)
				} else {
					c.Stopped = append(c.Stopped, pc)
				}
			case reconciler.ActService:
				kind := ServiceCreated
				if hasService(live.Services, a.Object) {
					kind = ServiceUpdated
				}
				svc[a.Object] = &ServiceChange{Key: a.Object, Change: kind, Detail: a.Message}
			case reconciler.ActPruneService:
				svc[a.Object] = &ServiceChange{Key: a.Object, Change: ServiceRemoved}
			}
		}
	}
	// Pair each rolled pod with a new pod of the same owner: a roll replaces, it does
	// not add. Unpaired new pods are a scale-up, unpaired old ones a scale-down.
	for owner := range rolled {
		if _, ok := created[owner]; !ok {
			owners = append(owners, owner)
		}
	}
	for _, owner := range owners {
		news, olds := created[owner], rolled[owner]
		n := min(len(news), len(olds))
		for i := range n {
			olds[i].Replacement = news[i].pod
			olds[i].ReplacementNode = placed[news[i].uid]
			c.Rolled = append(c.Rolled, olds[i])
		}
		for _, o := range olds[n:] {
			o.Reason = "scaled down during the roll"
			c.Stopped = append(c.Stopped, o)
		}
		for _, p := range news[n:] {
			c.Created = append(c.Created, PodChange{Owner: owner, Pod: p.pod, Node: placed[p.uid]})
		}
	}
	for _, p := range final.Pods {
		if p.Desire == api.DesireRun && p.Node == "" {
			c.Pending = append(c.Pending, PodChange{Owner: p.Owner, Pod: p.Name, Reason: cmp.Or(p.Status.Message, p.Status.Reason)})
		}
	}
	c.Services = serviceChanges(svc, live, final)
	if isLive {
		c.Nodes = capacity(live, final)
	}
	byOwnerPod := func(a, b PodChange) int { return cmp.Or(cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Pod, b.Pod)) }
	for _, l := range [][]PodChange{c.Created, c.Stopped, c.Rolled, c.Pending} {
		slices.SortFunc(l, byOwnerPod)
	}
	return c, nil
}

func hasService(svcs []api.ServiceRecord, key string) bool {
	return slices.ContainsFunc(svcs, func(s api.ServiceRecord) bool { return s.Key() == key })
}

// serviceChanges adds to the allocation changes every service whose ready backends
// differ between the live and the converged state.
func serviceChanges(svc map[string]*ServiceChange, before, after reconciler.Observed) []ServiceChange {
	readyPods := func(o reconciler.Observed) map[string]map[string]bool {
		out := map[string]map[string]bool{}
		for _, e := range o.Endpoints {
			set := map[string]bool{}
			for _, p := range e.Ports {
				if p.Ready {
					set[p.PodUID] = true
				}
			}
			out[e.Key()] = set
		}
		return out
	}
	b, a := readyPods(before), readyPods(after)
	keys := map[string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	for k := range svc {
		keys[k] = true
	}
	allocated := map[string]*api.ServiceRecord{}
	for i := range after.Services {
		allocated[after.Services[i].Key()] = &after.Services[i]
	}
	var out []ServiceChange
	for k := range keys {
		sc := svc[k]
		if sc == nil {
			sc = &ServiceChange{Key: k, Change: ServiceEndpoints}
		}
		if rec := allocated[k]; rec != nil && (sc.Change == ServiceCreated || sc.Change == ServiceUpdated) {
			sc.ClusterIP = rec.Spec.ClusterIP
			sc.NodePorts = nodePorts(rec.Spec.Ports)
		}
		sc.ReadyBefore, sc.ReadyAfter = len(b[k]), len(a[k])
		for uid := range a[k] {
			if !b[k][uid] {
				sc.Added++
			}
		}
		for uid := range b[k] {
			if !a[k][uid] {
				sc.Gone++
			}
		}
		if sc.Change == ServiceEndpoints && sc.Added == 0 && sc.Gone == 0 {
			continue
		}
		out = append(out, *sc)
	}
	slices.SortFunc(out, func(x, y ServiceChange) int { return cmp.Compare(x.Key, y.Key) })
	return out
}

// nodePorts lists each port's NodePort (0 where none); nil when no port has one.
func nodePorts(ports []corev1.ServicePort) []int32 {
	var out []int32
	some := false
	for _, p := range ports {
		out = append(out, p.NodePort)
		some = some || p.NodePort != 0
	}
	if !some {
		return nil
	}
	return out
}

func capacity(before, after reconciler.Observed) []NodeCapacity {
	ub, ua := printers.UsageByNode(before.Pods), printers.UsageByNode(after.Pods)
	var out []NodeCapacity
	for _, n := range after.Nodes {
		out = append(out, NodeCapacity{
			Node: n.Name, Allocatable: n.Allocatable,
			Before: ub[n.Name].Requested, After: ua[n.Name].Requested,
			PodsBefore: ub[n.Name].Pods, PodsAfter: ua[n.Name].Pods,
		})
	}
	slices.SortFunc(out, func(a, b NodeCapacity) int { return cmp.Compare(a.Node, b.Node) })
	return out
}
