package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/server/client"
)

// hogRC asks for more CPU than any node has: its pods stay Pending.
const hogRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: hog
spec:
  replicas: 2
  selector:
    app: hog
  template:
    metadata:
      labels:
        app: hog
    spec:
      containers:
      - name: web
        image: %s
        resources:
          requests:
            cpu: "1000"
`

// nodePortService exposes the backend on a NodePort the leader allocates.
const nodePortService = `apiVersion: v1
kind: Service
metadata:
  name: backend-np
spec:
  type: NodePort
  selector:
    app: shop
    tier: backend
  ports:
  - name: http
    port: 8082
    targetPort: http
`

// TestPlanPredictsBranches reviews several pull-request branches with `keelson plan
// --server` and merges each: the pods the plan says are created (and on which node),
// stopped, rolled and left Pending, and the ClusterIPs and NodePorts it says are
// allocated, must be exactly what the cluster then shows. The suite's servers run with
// a non-default --service-cidr and --cluster-cidr, which the plan must take from the
// server (GET /v1/config); one branch is reviewed after a node was lost.
func TestPlanPredictsBranches(t *testing.T) {
	k := newCluster(t)
	want := exampleCounts()
	k.deployExample()
	pending := map[string]int{}
	hog := "ReplicationController/default/hog"

	k.reviewAndMerge(t, "scale-expose", func() {
		k.edit("frontend.yaml", "replicas: 3", "replicas: 5")
		k.write("backend-np.yaml", nodePortService)
		k.write("hog.yaml", fmt.Sprintf(hogRC, k.env.WebV1))
		want[frontendRC] = 5
		pending[hog] = 2
	}, want, pending)

	k.reviewAndMerge(t, "roll", func() {
		k.edit("backend.yaml", k.env.WebV1, k.env.WebV2)
		k.edit("frontend.yaml", "replicas: 5", "replicas: 4")
		want[frontendRC] = 4
	}, want, pending)

	k.reviewAndMerge(t, "prune", func() {
		k.remove("hog.yaml")
		k.remove("backend-np.yaml")
		delete(pending, hog)
	}, want, pending)

	// Node loss in between: e2e-b stops heartbeating, goes Down, its pods are replaced
	// on e2e-a; the next review starts from that cluster.
	lost := agentNames[1]
	k.procs.Agent(lost).Stop(20 * time.Second)
	k.eventually(time.Minute, "node "+lost+" Down and its pods replaced", func(ctx context.Context) error {
		nodes, _, err := k.c.Nodes(ctx, client.QueryOptions{})
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.Name == lost && n.Status != api.NodeDown {
				return fmt.Errorf("node %s is %s", lost, n.Status)
			}
		}
		s, err := k.state(ctx)
		if err != nil {
			return err
		}
		for _, p := range s.pods {
			if p.Node == lost {
				return fmt.Errorf("pod %s still on %s", p.Name, lost)
			}
		}
		return s.settled(k.head(), want, pending)
	})
	k.reviewAndMerge(t, "after-node-loss", func() {
		k.edit("backend.yaml", "replicas: 2", "replicas: 3")
		k.write("extra.yaml", extraService)
		want[backendRC] = 3
	}, want, pending)
}

func (k *kcluster) write(file, content string) {
	k.t.Helper()
	if err := k.repo.WriteFile(file, content); err != nil {
		k.t.Fatal(err)
	}
}

func (k *kcluster) remove(file string) {
	k.t.Helper()
	if err := k.repo.Remove(file); err != nil {
		k.t.Fatal(err)
	}
}

// planReport is the part of `keelson plan -o json` these tests compare.
type planReport struct {
	Consequences *struct {
		Created  []struct{ Owner, Node string } `json:"created"`
		Stopped  []struct{ Owner string }       `json:"stopped"`
		Rolled   []struct{ Owner string }       `json:"rolled"`
		Pending  []struct{ Owner string }       `json:"pending"`
		Services []struct {
			Key       string  `json:"key"`
			Change    string  `json:"change"`
			ClusterIP string  `json:"clusterIP"`
			NodePorts []int32 `json:"nodePorts"`
		} `json:"services"`
	} `json:"consequences"`
}

// reviewAndMerge commits change on a branch, previews it against the live cluster,
// fast-forwards main to it, waits until the cluster settles on it, and compares.
func (k *kcluster) reviewAndMerge(t *testing.T, branch string, change func(), want, pending map[string]int) {
	t.Helper()
	git := func(args ...string) {
		t.Helper()
		if _, err := devenv.Git(k.repo.Work, args...); err != nil {
			t.Fatal(err)
		}
	}
	git("checkout", "-q", "-b", branch)
	change()
	head, err := k.repo.Commit(branch)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	before, err := k.state(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(k.env.Bin, "plan", "--repo", k.repo.Work, "--base", "main", "--head", branch,
		"--server", strings.Join(k.procs.ServerURLs(), ","), "-o", "json")
	cmd.Env = append(os.Environ(), k.procs.CLIEnv()...)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("%s: keelson plan: want exit status 2 (changes), got %v: %s", branch, err, out)
	}
	var plan planReport
	if err := json.Unmarshal(out, &plan); err != nil || plan.Consequences == nil {
		t.Fatalf("%s: decode plan (%v):\n%s", branch, err, out)
	}

	git("checkout", "-q", "main")
	git("merge", "-q", "--ff-only", branch)
	if err := k.repo.Push(); err != nil {
		t.Fatal(err)
	}
	var after state
	k.eventually(2*time.Minute, branch+" settled", func(ctx context.Context) error {
		var err error
		if after, err = k.state(ctx); err != nil {
			return err
		}
		return after.settled(head, want, pending)
	})

	predicted, did := map[string]int{}, clusterDid(before, after)
	c := plan.Consequences
	for _, p := range c.Created {
		predicted["created "+p.Owner+" on "+p.Node]++
	}
	for _, p := range c.Stopped {
		predicted["stopped "+p.Owner]++
	}
	for _, p := range c.Rolled {
		predicted["rolled "+p.Owner]++
	}
	for _, p := range c.Pending {
		predicted["pending "+p.Owner]++
	}
	for _, s := range c.Services {
		if s.Change == "created" || s.Change == "updated" {
			predicted[fmt.Sprintf("service %s at %s ports %v", s.Key, s.ClusterIP, s.NodePorts)]++
		}
	}
	if diff := cmp.Diff(predicted, did); diff != "" {
		t.Errorf("%s: keelson plan predicted differently from what the cluster did (-plan +cluster):\n%s\nplan output:\n%s", branch, diff, out)
	}
	t.Logf("%s: plan and cluster agree: %v", branch, did)
}

// clusterDid sorts what changed between two states the way the plan report does: new
// pods of an owner whose template changed replace (roll) its old-template pods one for
// one; the rest are created or stopped. Services that are new or whose allocation
// changed are listed with their ClusterIP and NodePorts.
func clusterDid(before, after state) map[string]int {
	did := map[string]int{}
	old, now := map[string]api.PodRecord{}, map[string]bool{}
	for _, p := range before.pods {
		old[p.UID] = p
	}
	hashes := map[string]map[string]bool{} // owner → spec hashes of its pods after
	news := map[string][]api.PodRecord{}
	for _, p := range after.pods {
		now[p.UID] = true
		if hashes[p.Owner] == nil {
			hashes[p.Owner] = map[string]bool{}
		}
		hashes[p.Owner][p.SpecHash] = true
		if _, ok := old[p.UID]; !ok {
			news[p.Owner] = append(news[p.Owner], p)
		}
		if p.Desire == api.DesireRun && p.Node == "" {
			did["pending "+p.Owner]++
		}
	}
	replaced := map[string]int{}
	for uid, p := range old {
		if now[uid] || p.Desire != api.DesireRun {
			continue
		}
		if hs := hashes[p.Owner]; hs != nil && !hs[p.SpecHash] && replaced[p.Owner] < len(news[p.Owner]) {
			replaced[p.Owner]++
			did["rolled "+p.Owner]++
			continue
		}
		did["stopped "+p.Owner]++
	}
	for owner, ps := range news {
		slices.SortFunc(ps, func(a, b api.PodRecord) int { return a.CreatedAt.Compare(b.CreatedAt) })
		for _, p := range ps[replaced[owner]:] {
			did["created "+owner+" on "+p.Node]++
		}
	}
	was := map[string]string{}
	for _, s := range before.services {
		was[s.Key()] = allocation(s.Spec)
	}
	for _, s := range after.services {
		if a := allocation(s.Spec); was[s.Key()] != a {
			did["service "+s.Key()+" at "+a]++
		}
	}
	return did
}

// allocation formats what the leader allocated for a Service, as the plan check does.
func allocation(spec corev1.ServiceSpec) string {
	var ports []int32
	some := false
	for _, p := range spec.Ports {
		ports = append(ports, p.NodePort)
		some = some || p.NodePort != 0
	}
	if !some {
		ports = nil
	}
	return fmt.Sprintf("%s ports %v", spec.ClusterIP, ports)
}

// settled is converged for a cluster that may hold Pending pods: commit applied,
// nothing stopping, want Running and Ready per owner, pending unscheduled per owner.
func (s state) settled(commit string, want, pending map[string]int) error {
	if s.status.Applied == nil || s.status.Applied.Commit != commit {
		return fmt.Errorf("commit %s not applied yet", short(commit))
	}
	running, waiting := map[string]int{}, map[string]int{}
	for _, p := range s.pods {
		switch {
		case p.Desire != api.DesireRun:
			return fmt.Errorf("pod %s still stopping", p.Name)
		case p.Node == "":
			waiting[p.Owner]++
		case p.Status.Phase != corev1.PodRunning || !p.Status.Ready:
			return fmt.Errorf("pod %s on %s: %s ready=%v", p.Name, p.Node, p.Status.Phase, p.Status.Ready)
		default:
			running[p.Owner]++
		}
	}
	if !cmp.Equal(running, want) {
		return fmt.Errorf("running %v, want %v", running, want)
	}
	if len(waiting) != 0 || len(pending) != 0 {
		if !cmp.Equal(waiting, pending) {
			return fmt.Errorf("pending %v, want %v", waiting, pending)
		}
	}
	return nil
}
