package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/chaos/model"
)

const (
	webOwner  = "ReplicationController/default/web"
	soloOwner = "Pod/default/solo"
)

// nodeTruth is what really is on one node, read from containerd, the agent's runtime
// state and the node's kernel, not from the agent or the API.
type nodeTruth struct {
	running   []string        // pod UIDs with a running container
	sandboxes map[string]bool // pod UIDs with a sandbox record
	netns     []string        // entries of the runtime's netns dir
	ips       []string        // host-local allocations (values: the owner's ID)
	nft       string          // the proxy's table, as `nft list table` prints it
}

func (c *cluster) truth(ctx context.Context, a *agent) (nodeTruth, error) {
	var nt nodeTruth
	rt, err := a.spec.Open(ctx)
	if err != nil {
		return nt, err
	}
	defer rt.Close()
	cs, err := rt.ListContainers(ctx)
	if err != nil {
		return nt, err
	}
	for _, ct := range cs {
		if ct.State == "running" {
			nt.running = append(nt.running, ct.PodUID)
		}
	}
	sbs, err := rt.ListSandboxes(ctx)
	if err != nil {
		return nt, err
	}
	nt.sandboxes = map[string]bool{}
	for _, sb := range sbs {
		nt.sandboxes[sb.PodUID] = true
	}
	ents, err := os.ReadDir(a.spec.StateDir + "/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nt, err
	}
	for _, e := range ents {
		nt.netns = append(nt.netns, e.Name())
	}
	ips, err := rt.AllocatedIPs()
	if err != nil {
		return nt, err
	}
	for ip, id := range ips {
		nt.ips = append(nt.ips, ip+"="+id)
	}
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", a.NetNS, "nft", "list", "table", "ip", a.spec.ProxyTable).CombinedOutput()
	if err != nil {
		return nt, fmt.Errorf("%s: nft table %s: %v: %s", a.Name, a.spec.ProxyTable, err, strings.TrimSpace(string(out)))
	}
	nt.nft = string(out)
	return nt, nil
}

// convergence is a converged cluster's view: the pods by UID and where they run.
type convergence struct {
	pods    map[string]api.PodRecord
	running map[string][]string // pod UID → nodes it runs on
}

// converged says why the cluster is not (yet) at the last pushed commit, or returns
// what it found when it is: every server up and a voter showing that commit, every
// node Ready, the RC and the bare Pod exactly as pushed, Running and Ready, and on the
// nodes exactly those pods running, each once, with no sandbox, netns, IP or proxy
// rule of anything else.
func (c *cluster) converged(ctx context.Context, p *pusher) (*convergence, error) {
	want, sha, _ := p.current()
	cl := c.client()
	st, _, err := cl.StatusQuery(ctx, client.QueryOptions{Consistent: true})
	if err != nil {
		return nil, err
	}
	if st.Applied == nil || st.Applied.Commit != sha {
		return nil, fmt.Errorf("applied %v, last pushed %s", st.Applied, sha)
	}
	voters := 0
	for _, s := range st.Servers {
		if s.Voter {
			voters++
		}
	}
	if voters != len(c.servers) || len(st.Servers) != len(c.servers) {
		return nil, fmt.Errorf("raft members %+v", st.Servers)
	}
	for _, n := range st.Nodes {
		if n.Status != api.NodeReady {
			return nil, fmt.Errorf("node %s is %s", n.Name, n.Status)
		}
	}
	if len(st.Nodes) != len(c.agents) {
		return nil, fmt.Errorf("%d nodes registered", len(st.Nodes))
	}
	for _, s := range c.servers {
		own, err := c.client(s).Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		if own.Applied == nil || own.Applied.Commit != sha {
			return nil, fmt.Errorf("%s applied %v", s.Name, own.Applied)
		}
	}
	pods, _, err := cl.Pods(ctx, client.QueryOptions{Consistent: true})
	if err != nil {
		return nil, err
	}
	cv := &convergence{pods: map[string]api.PodRecord{}, running: map[string][]string{}}
	count := map[string]int{}
	var endpointIPs []string
	for _, pod := range pods {
		cv.pods[pod.UID] = pod
		count[pod.Owner]++
		gen := want.WebGen
		if pod.Owner == soloOwner {
			gen = want.SoloGen
		}
		ctr := pod.Spec.Containers[0]
		switch {
		case pod.Owner != webOwner && pod.Owner != soloOwner:
			return nil, fmt.Errorf("pod %s of unknown owner %s", pod.Name, pod.Owner)
		case pod.Desire != api.DesireRun || pod.Status.Phase != corev1.PodRunning || !pod.Status.Ready || pod.Node == "":
			return nil, fmt.Errorf("pod %s on %q: %s %s ready=%v %s", pod.Name, pod.Node, pod.Desire, pod.Status.Phase, pod.Status.Ready, pod.Status.Reason)
		case ctr.Image != want.Image || envGen(ctr) != strconv.Itoa(gen):
			return nil, fmt.Errorf("pod %s still at %s GEN=%s", pod.Name, ctr.Image, envGen(ctr))
		}
		if pod.Owner == webOwner {
			endpointIPs = append(endpointIPs, pod.Status.PodIP)
		}
	}
	if count[webOwner] != want.Replicas || count[soloOwner] != 1 {
		return nil, fmt.Errorf("pods by owner %v, want %d web and 1 solo", count, want.Replicas)
	}
	for _, a := range c.agents {
		nt, err := c.truth(ctx, a)
		if err != nil {
			return nil, err
		}
		if err := checkNode(a.Name, nt, cv, endpointIPs); err != nil {
			return nil, err
		}
		for _, uid := range nt.running {
			if !slices.Contains(cv.running[uid], a.Name) {
				cv.running[uid] = append(cv.running[uid], a.Name)
			}
		}
	}
	for uid, pod := range cv.pods {
		if nodes := cv.running[uid]; len(nodes) != 1 || nodes[0] != pod.Node {
			return nil, fmt.Errorf("pod %s (%s) assigned to %s runs on %v", pod.Name, uid, pod.Node, nodes)
		}
	}
	return cv, nil
}

// checkNode compares one node's truth with the store: the pods running there, their
// sandboxes, netns, IPs, and the proxy's endpoints are exactly the store's.
func checkNode(name string, nt nodeTruth, cv *convergence, endpointIPs []string) error {
	var want []string
	for uid, p := range cv.pods {
		if p.Node == name {
			want = append(want, uid)
		}
	}
	sort.Strings(want)
	running := slices.Clone(nt.running)
	sort.Strings(running)
	var sandboxes []string
	for uid := range nt.sandboxes {
		sandboxes = append(sandboxes, uid)
	}
	sort.Strings(sandboxes)
	switch {
	case !slices.Equal(running, want):
		return fmt.Errorf("%s runs pods %v, the store assigns %v", name, running, want)
	case !slices.Equal(sandboxes, want):
		return fmt.Errorf("%s has sandboxes %v, the store assigns %v (orphaned or missing)", name, sandboxes, want)
	case len(nt.netns) != len(want):
		return fmt.Errorf("%s has netns %v for pods %v", name, nt.netns, want)
	case len(nt.ips) != len(want):
		return fmt.Errorf("%s holds IPs %v for pods %v", name, nt.ips, want)
	}
	for _, ip := range endpointIPs {
		if !strings.Contains(nt.nft, ip+" ") && !strings.Contains(nt.nft, ip+":") && !strings.Contains(nt.nft, ip+"\n") {
			return fmt.Errorf("%s: proxy table lacks endpoint %s", name, ip)
		}
	}
	// No rule of a pod that is gone: every pod-network address the table names is an
	// endpoint now.
	for _, f := range strings.FieldsFunc(nt.nft, func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\t' || r == ',' || r == '{' || r == '}' || r == ':'
	}) {
		if strings.HasPrefix(f, "10.249.") && !strings.Contains(f, "/") && !slices.Contains(endpointIPs, f) {
			return fmt.Errorf("%s: proxy table names %s, which is no endpoint %v", name, f, endpointIPs)
		}
	}
	return nil
}

func envGen(c corev1.Container) string {
	for _, e := range c.Env {
		if e.Name == "GEN" {
			return e.Value
		}
	}
	return ""
}

// scanOwners turns a converged view into the recorder's ownership scan: the pods
// really running, by owner, with the owner's slots.
func scanOwners(cv *convergence, want desired) map[string]model.Owner {
	out := map[string]model.Owner{webOwner: {Capacity: want.Replicas}, soloOwner: {Capacity: 1}}
	for uid := range cv.running {
		owner := cv.pods[uid].Owner
		o := out[owner] // an unknown owner has no slots: a violation
		o.Running = append(o.Running, uid)
		out[owner] = o
	}
	return out
}
