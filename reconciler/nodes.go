package reconciler

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// nodeState is one node as this step sees it, with the scheduler's running totals.
type nodeState struct {
	node  api.Node // Status and PodCIDR already reflect this step's patches
	used  api.Resources
	pods  int           // pods with Desire Run assigned here (MaxPodsPerNode)
	score api.Resources // non-zero requests, for ranking only
	ports map[hostPort]bool
	// cls and free cache, while one scheduling class is placed, the owner's pod count
	// here and freeScore, so heap comparisons do no map lookups or divisions.
	cls  int
	free int64
}

func (p *planner) initNodes() {
	p.nodes = make(map[string]*nodeState, len(p.in.Nodes))
	p.nodeNames = make([]string, 0, len(p.in.Nodes))
	for _, n := range p.in.Nodes {
		p.nodes[n.Name] = &nodeState{node: n}
		p.nodeNames = append(p.nodeNames, n.Name)
	}
	slices.Sort(p.nodeNames)
}

// nodeUp reports whether the node exists and is not Down: pods there still count.
func (p *planner) nodeUp(name string) bool {
	n := p.nodes[name]
	return n != nil && n.node.Status != api.NodeDown
}

// nodeReady reports whether the node exists and is Ready.
func (p *planner) nodeReady(name string) bool {
	n := p.nodes[name]
	return n != nil && n.node.Status == api.NodeReady
}

// reconcileNodes moves nodes between Ready, NotReady and Down from the age of their
// last heartbeat, and gives each node without one a pod CIDR.
func (p *planner) reconcileNodes() {
	for _, name := range p.nodeNames {
		ns := p.nodes[name]
		hb, ok := p.in.Heartbeats[name]
		if !ok {
			// No heartbeat known (e.g. the caller did not fill in leadership start):
			// assume it just heartbeated rather than evicting on missing information.
			hb = p.now
		}
		age := p.now.Sub(hb)
		want, reason := api.NodeReady, ""
		switch {
		case age > p.cfg.EvictionTimeout:
			want, reason = api.NodeDown, fmt.Sprintf("no heartbeat for %s", age.Round(time.Second))
		case age > p.cfg.NodeGracePeriod:
			want, reason = api.NodeNotReady, fmt.Sprintf("no heartbeat for %s", age.Round(time.Second))
		}
		cur := ns.node.Status
		if want == api.NodeNotReady && cur == api.NodeDown {
			want = api.NodeDown // pods are gone already; only a fresh heartbeat revives it
		}
		if want == cur {
			continue
		}
		ns.node.Status, ns.node.StatusReason, ns.node.StatusChangedAt = want, reason, p.now
		p.changes.Nodes = append(p.changes.Nodes, api.NodePatch{Name: name, Status: want, StatusReason: reason, At: p.now})
		key := api.Key("Node", "", name)
		switch want {
		case api.NodeReady:
			p.event(api.EventNormal, key, "NodeReady", "", "node %s is Ready (was %s)", name, orUnknown(cur))
		case api.NodeNotReady:
			p.event(api.EventWarning, key, "NodeNotReady", "", "node %s is NotReady: %s", name, reason)
		case api.NodeDown:
			p.event(api.EventWarning, key, "NodeDown", "", "node %s is Down: %s; its pods are evicted", name, reason)
		}
		p.action(Action{Type: ActNodeStatus, Object: key, Node: name, Message: fmt.Sprintf("%s → %s %s", orUnknown(cur), want, reason)})
	}
	p.allocatePodCIDRs()
}

func orUnknown(s api.NodeStatus) string {
	if s == "" {
		return "new"
	}
	return string(s)
}

// allocatePodCIDRs hands each node without a pod CIDR the lowest subnet of the cluster
// CIDR that no node holds. CIDRs are never reused while their node is registered, so
// routes on other nodes stay valid. IPv4 only.
func (p *planner) allocatePodCIDRs() {
	cluster, err := netip.ParsePrefix(p.cfg.ClusterCIDR)
	bits := p.cfg.NodeCIDRMaskSize
	if err != nil || !cluster.Addr().Is4() || bits < cluster.Bits() || bits > 30 {
		return
	}
	cluster = cluster.Masked()
	used := map[netip.Prefix]bool{}
	for _, name := range p.nodeNames {
		if c, err := netip.ParsePrefix(p.nodes[name].node.PodCIDR); err == nil {
			used[c.Masked()] = true
		}
	}
	base := ipv4ToUint(cluster.Addr())
	total := uint64(1) << (bits - cluster.Bits())
	next := uint64(0)
	for _, name := range p.nodeNames {
		ns := p.nodes[name]
		if ns.node.PodCIDR != "" {
			continue
		}
		for ; next < total; next++ {
			c := netip.PrefixFrom(uintToIPv4(base+uint32(next<<(32-bits))), bits)
			if !used[c] {
				break
			}
		}
		key := api.Key("Node", "", name)
		if next >= total {
			p.action(Action{Type: ActNodeStatus, Object: key, Node: name, Message: "no free pod CIDR in " + p.cfg.ClusterCIDR})
			continue
		}
		c := netip.PrefixFrom(uintToIPv4(base+uint32(next<<(32-bits))), bits)
		used[c] = true
		ns.node.PodCIDR = c.String()
		p.changes.Nodes = append(p.changes.Nodes, api.NodePatch{Name: name, PodCIDR: c.String(), At: p.now})
		p.event(api.EventNormal, key, "PodCIDRAllocated", "", "node %s: pod CIDR %s", name, c)
		p.action(Action{Type: ActNodeStatus, Object: key, Node: name, Message: "pod CIDR " + c.String()})
	}
}

func ipv4ToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToIPv4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// cleanupStopped removes the records of pods asked to stop once nothing can still be
// running them: the pod never reached a node, or its node is Down or gone (the agent
// fences by UID if it ever returns). A pod its agent stopped needs nothing here: the
// agent's Gone report removes the record (apply.StatusReports).
func (p *planner) cleanupStopped() {
	for _, ps := range p.pods {
		r := ps.rec
		if r.Desire != api.DesireStop {
			continue
		}
		why := ""
		switch {
		case r.Node == "":
			why = "never scheduled"
		case !p.nodeUp(r.Node):
			why = "node " + r.Node + " is gone"
		default:
			continue
		}
		ps.deleted = true
		p.action(Action{Type: ActDeletePod, Object: r.Owner, Pod: r.Name, PodUID: r.UID, Node: r.Node, Message: "record removed: " + why})
	}
}

// evictLostPods marks the pods of Down (or unregistered) nodes lost: Desire Stop and a
// NodeLost status. Their owners then see them as gone and create replacements in this
// same step; the records themselves are removed by the next step's cleanup.
func (p *planner) evictLostPods() {
	for _, ps := range p.pods {
		r := ps.rec
		if r.Desire != api.DesireRun || r.Node == "" || p.nodeUp(r.Node) {
			continue
		}
		node := r.Node
		ps.edit().Desire = api.DesireStop
		ps.setStatus(api.PodStatus{Phase: corev1.PodFailed, Reason: api.ReasonNodeLost, Message: "node " + node + " is Down"})
		p.event(api.EventWarning, r.Key(), "Evicted", r.Owner, "pod %s lost with node %s", r.Name, node)
		p.action(Action{Type: ActEvictPod, Object: r.Owner, Pod: r.Name, PodUID: r.UID, Node: node, Message: "node " + node + " is Down"})
	}
}
