package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keelson/keelson/internal/cli/planview"
	"github.com/keelson/keelson/internal/testenv"
)

// gitRepo is a repository driven by the real git command with a fixed identity and
// clock, so commit hashes (and so the golden files) are the same on every run.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	testenv.RequireBinary(t, "git")
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(),
		"HOME="+r.dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Ada Lovelace", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_AUTHOR_DATE=2025-03-14T12:00:00Z",
		"GIT_COMMITTER_NAME=Ada Lovelace", "GIT_COMMITTER_EMAIL=ada@example.com", "GIT_COMMITTER_DATE=2025-03-14T12:00:00Z",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *gitRepo) write(name, data string) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, name), []byte(data), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *gitRepo) read(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// edit replaces old by new in a file and fails when old is not there.
func (r *gitRepo) edit(name, old, new string) {
	r.t.Helper()
	s := r.read(name)
	if !strings.Contains(s, old) {
		r.t.Fatalf("%s does not contain %q", name, old)
	}
	r.write(name, strings.Replace(s, old, new, 1))
}

func (r *gitRepo) commit(msg string) {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

// brokenManifest has two problems the server would refuse the commit for.
const brokenManifest = `apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - name: debug
    image: 127.0.0.1:5000/keelson/web:v1
    tty: true
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: worker
spec:
  replicAs: 2
  selector: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: worker
        image: 127.0.0.1:5000/keelson/web:v1
`

// planRepo builds main = manifests-example, branch "change" = scale frontend 3 → 5,
// backend image v1 → v2 (a roll), backend Service removed; branch "broken" = change
// plus an invalid file.
func planRepo(t *testing.T) *gitRepo {
	r := newGitRepo(t)
	for _, pattern := range []string{"*.yaml", "*.json"} {
		files, err := filepath.Glob(filepath.Join("..", "..", "manifests-example", pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r.write(filepath.Base(f), string(b))
		}
	}
	r.commit("Example shop")
	r.git("checkout", "-q", "-b", "change")
	r.edit("frontend.yaml", "replicas: 3", "replicas: 5")
	r.edit("backend.yaml", "image: 127.0.0.1:5000/keelson/web:v1", "image: 127.0.0.1:5000/keelson/web:v2")
	be := r.read("backend.yaml")
	i := strings.Index(be, "---\napiVersion: v1\nkind: Service")
	if i < 0 {
		t.Fatal("backend.yaml has no Service document")
	}
	r.write("backend.yaml", be[:i])
	r.commit("Scale the frontend, roll the backend to v2, drop the backend Service")
	r.git("checkout", "-q", "-b", "broken")
	r.write("debug.yaml", brokenManifest)
	r.commit("Add a debug pod and a worker")
	return r
}

func TestPlanInvalidHead(t *testing.T) {
	r := planRepo(t)
	out, errOut, code := run(t, context.Background(), planCmd(testEnv()), "--repo", r.dir, "--base", "main", "--head", "broken")
	if code != planview.ExitInvalid {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	for _, want := range []string{
		"error: debug.yaml:9:5: Pod/debug: spec.containers[0].tty:",
		"error: debug.yaml:16:3: ReplicationController/worker:",
		"2 error(s): this commit would be refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "broken is invalid: 2 error(s)") {
		t.Errorf("stderr %q", errOut)
	}
	golden(t, "plan_invalid.txt.golden", out)

	md, _, code := run(t, context.Background(), planCmd(testEnv()), "--repo", r.dir, "--base", "main", "--head", "broken", "-o", "markdown")
	if code != planview.ExitInvalid {
		t.Fatalf("markdown: exit %d", code)
	}
	golden(t, "plan_invalid.md.golden", md)
}

func TestPlanChanges(t *testing.T) {
	r := planRepo(t)
	for _, tc := range []struct{ format, golden string }{
		{"markdown", "plan.md.golden"},
		{"text", "plan.txt.golden"},
		{"json", "plan.json.golden"},
	} {
		out, errOut, code := run(t, context.Background(), planCmd(testEnv()), "--repo", r.dir, "--base", "main", "--head", "change", "-o", tc.format)
		if code != planview.ExitChanges {
			t.Fatalf("%s: exit %d, want 2; stderr %s", tc.format, code, errOut)
		}
		if errOut != "" {
			t.Errorf("%s: exit 2 should print nothing on stderr, got %q", tc.format, errOut)
		}
		golden(t, tc.golden, out)
		if tc.format != "json" {
			continue
		}
		var rep planview.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		c := rep.Consequences
		if len(rep.Errors) != 0 || c == nil || c.Live {
			t.Fatalf("report %+v", rep)
		}
		// frontend 3 → 5: two pods created; backend's 2 pods rolled to v2; nothing stopped.
		if len(c.Created) != 2 || len(c.Rolled) != 2 || len(c.Stopped) != 0 || len(c.Pending) != 0 {
			t.Errorf("created %d rolled %d stopped %d pending %d, want 2 2 0 0", len(c.Created), len(c.Rolled), len(c.Stopped), len(c.Pending))
		}
		kinds := map[string]planview.ChangeKind{}
		for _, o := range rep.Objects {
			kinds[o.Key] = o.Change
		}
		if kinds["ReplicationController/default/frontend"] != planview.Changed ||
			kinds["ReplicationController/default/backend"] != planview.Changed ||
			kinds["Service/default/backend"] != planview.Removed || len(kinds) != 3 {
			t.Errorf("objects %v", kinds)
		}
		removed := false
		for _, s := range c.Services {
			removed = removed || s.Key == "Service/default/backend" && s.Change == planview.ServiceRemoved
		}
		if !removed {
			t.Errorf("services %+v: the backend Service is not removed", c.Services)
		}
	}
}

func TestPlanNoChange(t *testing.T) {
	r := planRepo(t)
	out, errOut, code := run(t, context.Background(), planCmd(testEnv()), "--repo", r.dir, "--base", "change", "--head", "change")
	if code != planview.ExitNoChange || !strings.Contains(out, "no changes") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
}

func TestPlanErrors(t *testing.T) {
	r := planRepo(t)
	for _, args := range [][]string{
		{"--repo", r.dir, "--base", "main", "--head", "no-such-branch"},
		{"--repo", filepath.Join(r.dir, "missing"), "--base", "main"},
		{"--repo", r.dir, "--base", "main", "-o", "html"},
		{"--repo", r.dir},
	} {
		if _, errOut, code := run(t, context.Background(), planCmd(testEnv()), args...); code != 1 || errOut == "" {
			t.Errorf("plan %q: exit %d, stderr %q; want exit 1 with a message", args, code, errOut)
		}
	}
}

// TestPlanLive previews against a (fake) live cluster whose only Ready node is nearly
// full: the report must show real placements, capacity, and the pods left Pending.
func TestPlanLive(t *testing.T) {
	r := planRepo(t)
	f, url := newFakeAPI(t)
	f.set(func(s *fixture) { s.nodes[0].Allocatable.MilliCPU = 300 })
	out, errOut, code := run(t, context.Background(), planCmd(testEnv()),
		"--repo", r.dir, "--base", "main", "--head", "change", "--server", url, "-o", "json")
	if code != planview.ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep planview.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Consequences
	if c == nil || !c.Live || len(c.Nodes) != 2 {
		t.Fatalf("consequences %+v", c)
	}
	if len(c.Pending) == 0 {
		t.Errorf("nothing Pending on a 300m node: %+v", c)
	}
	for _, p := range c.Created {
		if p.Node != "" && p.Node != "n1" {
			t.Errorf("pod %s placed on %s, only n1 is Ready", p.Pod, p.Node)
		}
	}
	md, _, _ := run(t, context.Background(), planCmd(testEnv()),
		"--repo", r.dir, "--base", "main", "--head", "change", "--server", url, "-o", "markdown")
	golden(t, "plan_live.md.golden", md)
}

// TestPlanLiveUsesServerConfig: with --server the preview runs with the reconciler
// configuration the cluster publishes, not the defaults. A server that places one pod
// per batch needs more steps for the same change, and a configuration the CLI cannot
// use is an error, never a silent fallback to the defaults.
func TestPlanLiveUsesServerConfig(t *testing.T) {
	r := planRepo(t)
	steps := func(t *testing.T, url string) int {
		t.Helper()
		out, errOut, code := run(t, context.Background(), planCmd(testEnv()),
			"--repo", r.dir, "--base", "main", "--head", "change", "--server", url, "-o", "json")
		if code != planview.ExitChanges {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rep planview.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		return rep.Consequences.Steps
	}
	_, defURL := newFakeAPI(t)
	f, oneURL := newFakeAPI(t)
	f.set(func(s *fixture) { s.config.MaxPodsPerBatch = 1 })
	if def, one := steps(t, defURL), steps(t, oneURL); one <= def {
		t.Errorf("steps with MaxPodsPerBatch 1: %d, with the default: %d; the server's config was not used", one, def)
	}
	f.set(func(s *fixture) { s.config.ServiceCIDR = "not-a-cidr" })
	_, errOut, code := run(t, context.Background(), planCmd(testEnv()),
		"--repo", r.dir, "--base", "main", "--head", "change", "--server", oneURL)
	if code != 1 || !strings.Contains(errOut, "serviceCIDR") {
		t.Errorf("bad server config: exit %d, stderr %q; want exit 1 naming serviceCIDR", code, errOut)
	}
}
