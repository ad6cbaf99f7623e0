package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelson/keelson/internal/devenv"
)

const workerRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: worker
spec:
  replicas: 2
  selector:
    app: worker
  template:
    metadata:
      labels:
        app: worker
    spec:
      containers:
      - name: web
        image: %s
        args: ["-listen", ":8080", "-message", "worker"]
`

// planJSON is the part of `keelson plan -o json` this test compares.
type planJSON struct {
	Consequences *struct {
		Created []struct{ Owner, Pod string } `json:"created"`
		Stopped []struct{ Owner, Pod string } `json:"stopped"`
		Rolled  []struct{ Owner, Pod string } `json:"rolled"`
		Pending []struct{ Owner, Pod string } `json:"pending"`
	} `json:"consequences"`
}

// checkPlan previews a branch (scale the frontend down, add a worker RC) with
// `keelson plan --server`, merges it, and compares the predicted pods created and
// stopped per owner with what the cluster did.
func (k *kcluster) checkPlan(t *testing.T, before state, want map[string]int) {
	if out, err := exec.Command(k.env.Bin, "plan", "--help").CombinedOutput(); err != nil {
		t.Skipf("keelson plan not built yet: %s", strings.TrimSpace(string(out)))
	}
	git := func(args ...string) {
		t.Helper()
		if _, err := devenv.Git(k.repo.Work, args...); err != nil {
			t.Fatal(err)
		}
	}
	git("checkout", "-q", "-b", "pr")
	k.edit("frontend.yaml", "replicas: 4", "replicas: 2")
	if err := k.repo.WriteFile("worker.yaml", fmt.Sprintf(workerRC, k.env.WebV1)); err != nil {
		t.Fatal(err)
	}
	head, err := k.repo.Commit("scale frontend down, add a worker")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(k.env.Bin, "plan", "--repo", k.repo.Work, "--base", "main", "--head", "pr",
		"--server", strings.Join(k.procs.ServerURLs(), ","), "-o", "json")
	cmd.Env = append(os.Environ(), k.procs.CLIEnv()...)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("keelson plan: want exit status 2 (changes), got %v: %s", err, out)
	}
	var plan planJSON
	if err := json.Unmarshal(out, &plan); err != nil {
		t.Fatalf("decode plan: %v\n%s", err, out)
	}
	if plan.Consequences == nil {
		t.Fatalf("plan has no consequences:\n%s", out)
	}
	predicted := map[string]int{}
	for _, c := range plan.Consequences.Created {
		predicted["created "+c.Owner]++
	}
	for _, c := range plan.Consequences.Stopped {
		predicted["stopped "+c.Owner]++
	}
	for _, c := range plan.Consequences.Rolled {
		predicted["rolled "+c.Owner]++
	}
	for _, c := range plan.Consequences.Pending {
		predicted["pending "+c.Owner]++
	}

	git("checkout", "-q", "main")
	git("merge", "-q", "--ff-only", "pr")
	if err := k.repo.Push(); err != nil {
		t.Fatal(err)
	}
	want[frontendRC] = 2
	want["ReplicationController/default/worker"] = 2
	after := k.waitConverged(time.Minute, head, want)

	old, now := map[string]string{}, map[string]bool{}
	for _, p := range before.pods {
		old[p.UID] = p.Owner
	}
	did := map[string]int{}
	for _, p := range after.pods {
		now[p.UID] = true
		if _, ok := old[p.UID]; !ok {
			did["created "+p.Owner]++
		}
	}
	for uid, owner := range old {
		if !now[uid] {
			did["stopped "+owner]++
		}
	}
	if diff := cmp.Diff(predicted, did); diff != "" {
		t.Errorf("keelson plan predicted differently from what the cluster did (-plan +cluster):\n%s\nplan output:\n%s", diff, out)
	}
	t.Logf("plan and cluster agree: %v", did)
}
