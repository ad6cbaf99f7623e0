package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
)

// Choices that keep the suite apart from other tests that may run on the same host at
// the same time (`go test ./...` runs packages in parallel): its own pod and service
// ranges, NodePort, bridge and nftables names.
const (
	clusterCIDR = "10.245.0.0/16"
	serviceCIDR = "10.97.0.0/16"
	// nodePort replaces manifests-example's 30080 in the test repository.
	nodePort = 30980
	// Short node timeouts, so the failure scenarios take seconds, not minutes.
	nodeGrace       = 4 * time.Second
	evictionTimeout = 8 * time.Second
)

var agentNames = []string{"e2e-a", "e2e-b"}

// clusterSeq makes every cluster's containerd namespaces unique within the run.
var clusterSeq atomic.Int32

// agentSpecs names what each agent owns on the host; ns distinguishes clusters.
func agentSpecs(ns string) map[string]harness.RuntimeSpec {
	out := map[string]harness.RuntimeSpec{}
	for _, n := range agentNames {
		out[n] = harness.RuntimeSpec{
			Bridge:     "kls-" + n,
			ProxyTable: "kls_" + strings.ReplaceAll(n, "-", "_"),
			Namespace:  ns + "-" + n,
		}
	}
	return out
}

// kcluster is one running test cluster: 3 servers and 2 agents following a bare Git
// repository seeded with manifests-example.
type kcluster struct {
	t     *testing.T // the running (sub)test: waits fail it
	root  *testing.T // the test that owns the cluster: teardown logs there
	env   *harness.Env
	dir   string
	procs *harness.Cluster
	c     *client.Client
	repo  *devenv.Repo
	addr  string                         // the host's address: agents' and NodePorts'
	specs map[string]harness.RuntimeSpec // by node name
}

// newCluster starts a cluster for t and registers its teardown. On failure the
// teardown prints every process's log tail and `keelson status`.
func newCluster(t *testing.T) *kcluster {
	t.Helper()
	env := requireSuite(t)
	// Not t.TempDir: an interrupted run (which skips t.Cleanup) must remove it too.
	dir, err := os.MkdirTemp("", "keelson-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = devenv.UnmountUnder(dir); _ = os.RemoveAll(dir) })
	addr, err := harness.NodeAddress()
	if err != nil {
		t.Fatal(err)
	}
	// The repository starts empty: the first push (deploy) happens once both nodes
	// are up, so the scheduler spreads the example over them.
	repo, err := devenv.NewRepo(filepath.Join(dir, "git"), "")
	if err != nil {
		t.Fatal(err)
	}
	k := &kcluster{t: t, root: t, env: env, dir: dir, repo: repo, addr: addr,
		specs: agentSpecs(fmt.Sprintf("e2e%d", clusterSeq.Add(1)))}
	opts := harness.ClusterOptions{
		Bin: env.Bin, Dir: filepath.Join(dir, "cluster"), Servers: 3, RepoURL: repo.Bare,
		ServerArgs: []string{
			"--poll-interval", "500ms",
			"--node-grace-period", nodeGrace.String(), "--eviction-timeout", evictionTimeout.String(),
			"--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR,
		},
	}
	for i, name := range agentNames {
		s := k.specs[name]
		s.Containerd = env.Containerd
		s.StateDir = filepath.Join(opts.Dir, name, "runtime") // the agent's <data-dir>/runtime
		k.specs[name] = s
		opts.Agents = append(opts.Agents, harness.AgentOptions{Name: name, ListenHost: addr, Args: []string{
			"--address", addr, "--containerd", env.Containerd, "--containerd-namespace", s.Namespace,
			"--bridge", s.Bridge, "--proxy-table", s.ProxyTable, "--cluster-cidr", clusterCIDR,
			"--host-gw=false", "--registry-insecure", env.Registry,
			// Each agent its own cluster DNS address (harness.DNSAddress): agents share this host.
			"--dns-address", harness.DNSAddress(26, i),
		}})
	}
	procs, err := harness.StartCluster(opts)
	if err != nil {
		t.Fatal(err)
	}
	k.procs = procs
	k.c = procs.MustClient()
	unregister := shared.OnInterrupt(k.teardown)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keelson status:\n%s", k.statusText())
			t.Logf("process logs (tails):\n%s", procs.Logs(6000))
		}
		k.teardown()
		unregister()
		for _, s := range k.specs {
			if left := s.Leftovers(context.Background()); left != "" {
				t.Errorf("left behind by agent %s: %s", s.Namespace, left)
			}
		}
	})
	k.eventually(time.Minute, "both nodes Ready", func(ctx context.Context) error {
		nodes, _, err := k.c.Nodes(ctx, client.QueryOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes {
			if n.Status == api.NodeReady {
				ready++
			}
		}
		if ready != len(agentNames) {
			return fmt.Errorf("%d of %d nodes Ready", ready, len(agentNames))
		}
		return nil
	})
	return k
}

// deployExample pushes manifests-example (images pointed at the suite's registry) as
// a user would and waits until it runs; it returns the converged state.
func (k *kcluster) deployExample() state {
	k.t.Helper()
	if err := seedManifests(filepath.Join(k.env.Root, "manifests-example"), k.repo.Work, k.env.Registry); err != nil {
		k.t.Fatal(err)
	}
	return k.waitConverged(4*time.Minute, k.push("deploy manifests-example"), exampleCounts())
}

// teardown stops agents, removes their pods, bridges and tables, then stops servers.
func (k *kcluster) teardown() {
	for _, p := range k.procs.Agents {
		p.Stop(20 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name, s := range k.specs {
		if err := s.RemoveAll(ctx); err != nil {
			k.root.Logf("clean agent %s: %v", name, err)
		}
	}
	for _, p := range k.procs.Servers {
		p.Stop(10 * time.Second)
	}
	_ = devenv.UnmountUnder(k.dir)
	if err := os.RemoveAll(k.dir); err != nil {
		k.root.Logf("remove %s: %v", k.dir, err)
	}
}

// statusText is `keelson status` against the cluster, for failure reports.
func (k *kcluster) statusText() string {
	cmd := exec.Command(k.env.Bin, "status", "--server", strings.Join(k.procs.ServerURLs(), ","))
	cmd.Env = append(os.Environ(), k.procs.CLIEnv()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s(%v)", out, err)
	}
	return string(out)
}

// seedManifests copies the example's manifests into dst, pointing their images at the
// suite's registry and their NodePort at the suite's one.
func seedManifests(src, dst, registry string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".json")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		s := strings.ReplaceAll(string(b), "127.0.0.1:5000/", registry+"/")
		s = strings.ReplaceAll(s, "nodePort: 30080", fmt.Sprintf("nodePort: %d", nodePort))
		if err := os.WriteFile(filepath.Join(dst, e.Name()), []byte(s), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// edit rewrites a file of the work tree, failing the test when old is not in it.
func (k *kcluster) edit(file, old, new string) {
	k.t.Helper()
	p := filepath.Join(k.repo.Work, file)
	b, err := os.ReadFile(p)
	if err != nil {
		k.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		k.t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

// push commits the work tree and pushes it to main with the real git; it returns the
// commit id.
func (k *kcluster) push(msg string) string {
	k.t.Helper()
	sha, err := k.repo.CommitAndPush(msg)
	if err != nil {
		k.t.Fatal(err)
	}
	return sha
}

// eventually polls cond until it returns nil, failing the test with cond's last error
// after timeout. Each call gets a context bounded by the poll.
func (k *kcluster) eventually(timeout time.Duration, what string, cond func(ctx context.Context) error) {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		<-tick.C
	}
}

// state is one consistent look at the cluster through the API.
type state struct {
	status   api.StatusResponse
	pods     []api.PodRecord
	services []api.ServiceView
}

func (k *kcluster) state(ctx context.Context) (state, error) {
	var s state
	var err error
	if s.status, err = k.c.Status(ctx); err != nil {
		return s, err
	}
	if s.pods, _, err = k.c.Pods(ctx, client.QueryOptions{}); err != nil {
		return s, err
	}
	s.services, _, err = k.c.Services(ctx, client.QueryOptions{})
	return s, err
}

// running lists the pods that should run, optionally only those of one owner
// ("ReplicationController/default/frontend").
func (s state) running(owner string) []api.PodRecord {
	var out []api.PodRecord
	for _, p := range s.pods {
		if p.Desire == api.DesireRun && (owner == "" || p.Owner == owner) {
			out = append(out, p)
		}
	}
	return out
}

func (s state) service(name string) *api.ServiceView {
	for i := range s.services {
		if s.services[i].Name == name {
			return &s.services[i]
		}
	}
	return nil
}

// converged checks that commit is applied and that the cluster runs what it declares:
// every wanted pod Running and Ready, nothing being stopped, the expected number of
// pods per owner, and every service's ready endpoints matching its pods.
func (s state) converged(commit string, want map[string]int) error {
	if s.status.Applied == nil || s.status.Applied.Commit != commit {
		got := "nothing"
		if s.status.Applied != nil {
			got = short(s.status.Applied.Commit)
		}
		return fmt.Errorf("applied %s, want %s", got, short(commit))
	}
	count := map[string]int{}
	for _, p := range s.pods {
		if p.Desire != api.DesireRun {
			return fmt.Errorf("pod %s still stopping", p.Name)
		}
		if p.Status.Phase != corev1.PodRunning || !p.Status.Ready {
			return fmt.Errorf("pod %s on %q: %s ready=%v %s", p.Name, p.Node, p.Status.Phase, p.Status.Ready, p.Status.Reason)
		}
		count[p.Owner]++
	}
	for owner, n := range want {
		if count[owner] != n {
			return fmt.Errorf("%s has %d pods, want %d", owner, count[owner], n)
		}
	}
	for owner := range count {
		if _, ok := want[owner]; !ok {
			return fmt.Errorf("unexpected pods of %s", owner)
		}
	}
	for _, sv := range s.services {
		sel := sv.Spec.Selector
		var backends []string
		for _, p := range s.pods {
			if matches(sel, p.Labels) {
				backends = append(backends, p.UID)
			}
		}
		if got := readyPods(sv.Endpoints); !slices.Equal(got, sortedCopy(backends)) {
			return fmt.Errorf("service %s: ready endpoints of %d pods, want %d", sv.Name, len(got), len(backends))
		}
	}
	return nil
}

func matches(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// readyPods is the sorted set of pod UIDs with a ready endpoint.
func readyPods(eps []api.Endpoint) []string {
	var out []string
	for _, e := range eps {
		if e.Ready && !slices.Contains(out, e.PodUID) {
			out = append(out, e.PodUID)
		}
	}
	slices.Sort(out)
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// The owners of manifests-example and their pod counts.
const (
	frontendRC = "ReplicationController/default/frontend"
	backendRC  = "ReplicationController/default/backend"
	toolboxPod = "Pod/default/toolbox"
)

func exampleCounts() map[string]int {
	return map[string]int{frontendRC: 3, backendRC: 2, toolboxPod: 1}
}

// waitConverged waits until commit is applied and the cluster runs want; it returns
// the converged state.
func (k *kcluster) waitConverged(timeout time.Duration, commit string, want map[string]int) state {
	k.t.Helper()
	var s state
	k.eventually(timeout, "converge on "+short(commit), func(ctx context.Context) error {
		var err error
		if s, err = k.state(ctx); err != nil {
			return err
		}
		return s.converged(commit, want)
	})
	return s
}

// head is the commit at the tip of the work tree.
func (k *kcluster) head() string {
	k.t.Helper()
	sha, err := devenv.Git(k.repo.Work, "rev-parse", "HEAD")
	if err != nil {
		k.t.Fatal(err)
	}
	return sha
}

// containers lists the containers (by pod UID) in an agent's containerd namespace.
func (k *kcluster) containers(ctx context.Context, node string) (map[string][]string, int, error) {
	rt, err := k.specs[node].Open(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer rt.Close()
	cs, err := rt.ListContainers(ctx)
	if err != nil {
		return nil, 0, err
	}
	sbs, err := rt.ListSandboxes(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := map[string][]string{}
	for _, c := range cs {
		out[c.PodUID] = append(out[c.PodUID], c.Name+"/"+c.State)
	}
	return out, len(sbs), nil
}
