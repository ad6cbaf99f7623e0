package security

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
)

// victimPod is a bare Pod that only node sec-b (a node simulated with its own node
// certificate) can take: its reports are what node sec-a tries to forge.
const victimPod = `apiVersion: v1
kind: Pod
metadata:
  name: victim
spec:
  nodeSelector:
    sec: b
  containers:
  - name: web
    image: %s
`

// target is the cluster under attack: 3 servers and one real agent, plus two nodes
// registered through the API with their own certificates (sec-a and sec-b).
type target struct {
	c      *harness.Cluster
	reader *client.Client
	a, b   *client.Client // node clients of sec-a and sec-b
	victim api.PodRecord  // assigned to sec-b
	nodes  map[string]api.Node
}

func startTarget(t *testing.T) *target {
	env := shared.Require(t)
	dir, err := os.MkdirTemp("/run", "keelson-sec-")
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, "seed")
	if err := os.MkdirAll(seed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, "victim.yaml"), []byte(fmt.Sprintf(victimPod, env.WebV1)), 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := devenv.NewRepo(filepath.Join(dir, "git"), seed)
	if err != nil {
		t.Fatal(err)
	}
	spec := harness.RuntimeSpec{Containerd: env.Containerd, Namespace: ctrNS, StateDir: filepath.Join(dir, "cluster", agentName, "runtime"), Bridge: bridge}
	c, err := harness.StartCluster(harness.ClusterOptions{
		Bin: env.Bin, Dir: filepath.Join(dir, "cluster"), Servers: 3, RepoURL: repo.Bare,
		// Simulated nodes do not heartbeat: keep them Ready for the whole test so the
		// only state changes are the ones an attack would make.
		ServerArgs: []string{"--node-grace-period", "30m", "--eviction-timeout", "60m",
			"--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR},
		Agents: []harness.AgentOptions{{Name: agentName, Args: []string{
			"--address", "127.0.0.1", "--containerd", env.Containerd, "--containerd-namespace", ctrNS,
			"--bridge", bridge, "--proxy-mode", "none", "--host-gw=false", "--cluster-cidr", clusterCIDR,
			"--label", "sec=agent", "--dns-address", harness.DNSAddress(29, 0),
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	unregister := shared.OnInterrupt(c.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs (tails):\n%s", c.Logs(4000))
		}
		c.Stop()
		unregister()
		_ = spec.RemoveAll(context.Background())
		_ = devenv.UnmountUnder(dir)
		_ = os.RemoveAll(dir)
	})
	tg := &target{c: c, reader: c.MustClient()}
	testenv.EventuallyNoError(t, time.Minute, "every server a voter that knows the leader", func() error {
		for _, u := range c.ServerURLs() {
			st, err := c.MustClient(u).Status(context.Background())
			if err != nil {
				return err
			}
			voters := 0
			for _, s := range st.Servers {
				if s.Voter && s.HTTPAddr != "" {
					voters++
				}
			}
			if st.Leader == "" || voters != 3 {
				return fmt.Errorf("%s: leader %q, %d voters with addresses", u, st.Leader, voters)
			}
		}
		return nil
	})
	if tg.a, err = c.NodeClient("sec-a", nil, c.ServerURLs()...); err != nil {
		t.Fatal(err)
	}
	if tg.b, err = c.NodeClient("sec-b", nil, c.ServerURLs()...); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res := api.Resources{MilliCPU: 4000, MemoryBytes: 8 << 30}
	testenv.EventuallyNoError(t, time.Minute, "sec-a and sec-b registered", func() error {
		if _, err := tg.a.Register(ctx, api.NodeRegistration{Name: "sec-a", Address: "192.0.2.10", Labels: map[string]string{"sec": "a"}, Capacity: res, Allocatable: res}); err != nil {
			return err
		}
		_, err := tg.b.Register(ctx, api.NodeRegistration{Name: "sec-b", Address: "192.0.2.11", Labels: map[string]string{"sec": "b"}, Capacity: res, Allocatable: res})
		return err
	})
	testenv.EventuallyNoError(t, 2*time.Minute, "the victim pod assigned to sec-b and every node with a pod CIDR", func() error {
		pods, _, err := tg.reader.Pods(ctx, client.QueryOptions{})
		if err != nil {
			return err
		}
		i := slices.IndexFunc(pods, func(p api.PodRecord) bool { return p.Name == "victim" && p.Node == "sec-b" })
		if i < 0 {
			return fmt.Errorf("victim not on sec-b: %+v", pods)
		}
		tg.victim = pods[i]
		nodes, _, err := tg.reader.Nodes(ctx, client.QueryOptions{})
		if err != nil {
			return err
		}
		tg.nodes = map[string]api.Node{}
		for _, n := range nodes {
			if n.PodCIDR == "" {
				return fmt.Errorf("node %s has no pod CIDR yet", n.Name)
			}
			tg.nodes[n.Name] = n
		}
		if len(tg.nodes) != 3 {
			return fmt.Errorf("%d nodes, want 3", len(tg.nodes))
		}
		return nil
	})
	return tg
}

// fingerprint is the state an attack could change: members and their addresses,
// nodes with their addresses, keys and pod CIDRs, pods with their node and status,
// and the applied revision. It is read through the leader (consistent), then every
// replica must show the same (a write that reached raft shows everywhere).
func (tg *target) fingerprint(t *testing.T) string {
	t.Helper()
	want := tg.view(t, tg.c.ServerURLs(), true)
	for _, u := range tg.c.ServerURLs() {
		testenv.PollDetail(t, 30*time.Second, 50*time.Millisecond, "replica "+u+" to show the leader's state", func() (bool, string) {
			got := tg.view(t, []string{u}, false)
			return got == want, got
		})
	}
	return want
}

// view reads the state from the first of urls that answers.
func (tg *target) view(t *testing.T, urls []string, consistent bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := tg.c.MustClient(urls...)
	st, _, err := cl.StatusQuery(ctx, client.QueryOptions{Consistent: consistent})
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	pods, _, err := cl.Pods(ctx, client.QueryOptions{Consistent: consistent})
	if err != nil {
		t.Fatalf("pods: %v", err)
	}
	type nodeKey struct{ Name, Address, AgentURL, KeyHash, PodCIDR string }
	var nodes []nodeKey
	for _, n := range st.Nodes {
		nodes = append(nodes, nodeKey{n.Name, n.Address, n.AgentURL, n.KeyHash, n.PodCIDR})
	}
	type podKey struct {
		UID, Node string
		Status    api.PodStatus
	}
	var ps []podKey
	for _, p := range pods {
		ps = append(ps, podKey{p.UID, p.Node, p.Status})
	}
	var servers []api.ServerInfo
	for _, s := range st.Servers {
		s.Leader = false // leadership may move; membership must not
		servers = append(servers, s)
	}
	slices.SortFunc(servers, func(a, b api.ServerInfo) int { return strings.Compare(a.ID, b.ID) })
	var commit string
	if st.Applied != nil {
		commit = st.Applied.Commit
	}
	b, _ := json.Marshal(struct {
		Servers []api.ServerInfo
		Nodes   []nodeKey
		Pods    []podKey
		Commit  string
	}{servers, nodes, ps, commit})
	return string(b)
}

// unchanged runs attack and fails the test if the state differs afterwards or a
// server died.
func (tg *target) unchanged(t *testing.T, attack func(t *testing.T)) {
	t.Helper()
	before := tg.fingerprint(t)
	attack(t)
	for _, p := range tg.c.Servers {
		if !p.Running() {
			t.Fatalf("server %s died after the attack:\n%s", p.Name, p.Tail(4000))
		}
	}
	if after := tg.fingerprint(t); after != before {
		t.Fatalf("state changed by a refused attack:\nbefore %s\nafter  %s", before, after)
	}
}
