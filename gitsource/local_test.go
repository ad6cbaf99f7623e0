package gitsource

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// hour keeps the safety-net poll out of the way so that a delivery in these tests can
// only come from fsnotify.
const hour = time.Hour

func newLocal(t *testing.T, cfg Config) *Source {
	t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = hour
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src
}

func TestLocalPushDeliversRevision(t *testing.T) {
	r := newRepos(t)
	first := r.commit("first pod", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")

	src := newLocal(t, Config{URL: r.bare})
	c := start(t, src)
	rev := c.waitFor(t, first, 10*time.Second)
	if rev.Author != "Alice Author <alice@example.com>" || rev.Committer != "Carl Committer <carl@example.com>" {
		t.Errorf("author/committer = %q / %q", rev.Author, rev.Committer)
	}
	if rev.Message != "first pod" || rev.Parent != "" || rev.Time.IsZero() {
		t.Errorf("message %q parent %q time %v", rev.Message, rev.Parent, rev.Time)
	}
	if !rev.Valid() || len(rev.Objects.Pods) != 1 {
		t.Errorf("first revision: errors %v, %d pods, want valid with 1 pod", rev.Errors, len(rev.Objects.Pods))
	}

	second := r.commit("second", map[string]string{"svc/other.yaml": pod("svc-other")})
	r.push("main")
	rev = c.waitFor(t, second, 10*time.Second)
	if rev.Parent != first {
		t.Errorf("parent = %s, want %s", rev.Parent, first)
	}
	if !rev.Valid() || len(rev.Objects.Pods) != 2 {
		t.Errorf("second revision: errors %v, %d pods, want valid with 2 pods", rev.Errors, len(rev.Objects.Pods))
	}
	eventually(t, 5*time.Second, "status head", func() bool {
		st := src.Status()
		return st.Healthy && st.Head == second
	})
	if n := len(c.all()); n != 2 {
		t.Errorf("%d revisions delivered, want 2 (each head once)", n)
	}
}

func TestLocalForcePushDeliversNewTip(t *testing.T) {
	r := newRepos(t)
	a := r.commit("a", map[string]string{"pod.yaml": pod("pod")})
	b := r.commit("b", map[string]string{"b.yaml": pod("b")})
	r.push("main")
	c := start(t, newLocal(t, Config{URL: r.bare}))
	c.waitFor(t, b, 10*time.Second)

	r.git(r.work, "reset", "-q", "--hard", a)
	rewritten := r.commit("rewritten", map[string]string{"c.yaml": pod("c")})
	r.push("--force", "main")
	rev := c.waitFor(t, rewritten, 10*time.Second)
	if rev.Parent != a {
		t.Errorf("parent = %s, want %s", rev.Parent, a)
	}
}

func TestLocalDeletedBranchKeepsLastGood(t *testing.T) {
	r := newRepos(t)
	first := r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.push("main:prod")
	src := newLocal(t, Config{URL: r.bare, Branch: "prod"})
	c := start(t, src)
	c.waitFor(t, first, 10*time.Second)

	r.push("--delete", "prod")
	eventually(t, 10*time.Second, "unhealthy status", func() bool {
		st := src.Status()
		return !st.Healthy && strings.Contains(st.Message, "not found")
	})
	st := src.Status()
	if st.Head != first {
		t.Errorf("status head = %q, want last good %s", st.Head, first)
	}
	if n := len(c.all()); n != 1 {
		t.Errorf("%d revisions delivered after the branch was deleted, want 1", n)
	}

	// Recreated at a new commit: healthy again and delivered.
	next := r.commit("back", map[string]string{"b.yaml": pod("b")})
	r.push("main:prod")
	c.waitFor(t, next, 10*time.Second)
	eventually(t, 5*time.Second, "healthy again", func() bool { return src.Status().Healthy })
}

func TestLocalBadCommitDeliveredWithErrors(t *testing.T) {
	r := newRepos(t)
	good := r.commit("good", map[string]string{"apps/pod.yaml": pod("apps-pod")})
	r.push("main")
	c := start(t, newLocal(t, Config{URL: r.bare}))
	if rev := c.waitFor(t, good, 10*time.Second); !rev.Valid() {
		t.Fatalf("good commit refused: %v", rev.Errors)
	}

	bad := r.commit("bad", map[string]string{"apps/bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  nmae: typo\nspec:\n  containers: [\n"})
	r.push("main")
	rev := c.waitFor(t, bad, 10*time.Second)
	if len(rev.Errors) == 0 {
		t.Fatalf("bad commit delivered without errors (is api.Decode still the stub?)")
	}
	if !strings.Contains(rev.Errors[0].Pos.File, "apps/bad.yaml") {
		t.Errorf("error %q does not name apps/bad.yaml", rev.Errors[0].Error())
	}
}

// Symlinks and oversized files are refused by gitsource itself, before decoding.
func TestSymlinkAndOversizedFileRefused(t *testing.T) {
	r := newRepos(t)
	if err := os.MkdirAll(filepath.Join(r.work, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../elsewhere/pod.yaml", filepath.Join(r.work, "apps", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	r.git(r.work, "add", "apps/link.yaml")
	big := strings.Repeat("# padding\n", MaxManifestSize/10+1)
	head := r.commit("bad files", map[string]string{"apps/big.yaml": big, "apps/pod.yaml": pod("apps-pod")})
	r.push("main")

	rev := start(t, newLocal(t, Config{URL: r.bare})).waitFor(t, head, 10*time.Second)
	files := map[string]string{}
	for _, e := range rev.Errors {
		files[e.Pos.File] = e.Message
	}
	if !strings.Contains(files["apps/link.yaml"], "symbolic link") {
		t.Errorf("symlink not refused: %v", rev.Errors)
	}
	if !strings.Contains(files["apps/big.yaml"], "limit") {
		t.Errorf("oversized file not refused: %v", rev.Errors)
	}
}

// The reader takes only manifests under Path, skips dot entries, and reports a
// missing Path as an error rather than an empty desired state.
func TestReaderSelectsManifestFiles(t *testing.T) {
	r := newRepos(t)
	head := r.commit("tree", map[string]string{
		"deploy/a.yaml":             pod("deploy-a"),
		"deploy/sub/b.yml":          pod("deploy-sub-b"),
		"deploy/sub/c.JSON":         `{}`,
		"deploy/README.md":          "docs",
		"deploy/.github/ci.yaml":    "x",
		"deploy/.pre-commit.yaml":   "x",
		"other/elsewhere.yaml":      pod("other-elsewhere"),
		"deploy/sub/notes.yaml.bak": "x",
	})
	repo, err := openLocal(r.work)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(plumbing.NewHash(head))
	if err != nil {
		t.Fatal(err)
	}
	files, problems, err := reader{objects: repo.Storer, path: "deploy"}.files(c)
	if err != nil || len(problems) > 0 {
		t.Fatalf("files: %v %v", err, problems)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if got, want := strings.Join(paths, ","), "a.yaml,sub/b.yml,sub/c.JSON"; got != want {
		t.Errorf("files = %s, want %s", got, want)
	}
	if string(files[0].Data) != pod("deploy-a") {
		t.Errorf("content of a.yaml = %q", files[0].Data)
	}

	_, problems, err = reader{objects: repo.Storer, path: "missing"}.files(c)
	if err != nil || len(problems) != 1 || problems[0].Pos.File != "missing" {
		t.Errorf("missing path: err %v problems %v", err, problems)
	}
}

// A non-bare repository is read from its object store, and a branch that lives only
// in packed-refs resolves; a commit made there afterwards is seen.
func TestLocalNonBareAndPackedRefs(t *testing.T) {
	r := newRepos(t)
	first := r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.git(r.work, "pack-refs", "--all", "--prune")
	if _, err := os.Stat(filepath.Join(r.work, ".git", "refs", "heads", "main")); !os.IsNotExist(err) {
		t.Fatalf("expected main only in packed-refs, stat: %v", err)
	}
	c := start(t, newLocal(t, Config{URL: r.work}))
	c.waitFor(t, first, 10*time.Second)

	// Edits in the work tree are not desired state until committed.
	if err := os.WriteFile(filepath.Join(r.work, "pod.yaml"), []byte("garbage: ["), 0o644); err != nil {
		t.Fatal(err)
	}
	second := r.commit("second", map[string]string{"b.yaml": pod("b")})
	c.waitFor(t, second, 10*time.Second)
}

// A nested branch name watches directories that do not exist yet.
func TestLocalNestedBranchAppears(t *testing.T) {
	r := newRepos(t)
	r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	src := newLocal(t, Config{URL: r.bare, Branch: "team/prod"})
	c := start(t, src)
	eventually(t, 10*time.Second, "branch missing reported", func() bool {
		st := src.Status()
		return !st.Healthy && strings.Contains(st.Message, "team/prod")
	})
	head := r.commit("prod", map[string]string{"b.yaml": pod("b")})
	r.push("main:team/prod")
	c.waitFor(t, head, 10*time.Second)
}

// When the repository does not exist yet there is nothing to watch: the safety-net
// poll alone finds it once it appears.
func TestLocalPollFallback(t *testing.T) {
	r := newRepos(t)
	later := filepath.Join(t.TempDir(), "later.git")
	src := newLocal(t, Config{URL: later, PollInterval: 20 * time.Millisecond})
	c := start(t, src)
	eventually(t, 10*time.Second, "missing repository reported", func() bool {
		st := src.Status()
		return !st.Healthy && strings.Contains(st.Message, "repository")
	})
	head := r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.git(r.work, "init", "-q", "--bare", "-b", "main", later)
	r.git(r.work, "push", "-q", later, "main")
	c.waitFor(t, head, 10*time.Second)
}

func TestReadAnyRevision(t *testing.T) {
	r := newRepos(t)
	first := r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.git(r.work, "tag", "v1")
	second := r.commit("second", map[string]string{"b.yaml": pod("b")})
	r.git(r.work, "branch", "pr-1")
	r.push("main", "pr-1", "v1")

	src := newLocal(t, Config{URL: r.bare})
	ctx := context.Background()
	for rev, want := range map[string]string{"main": second, "HEAD~1": first, "v1": first, first: first, "pr-1": second, "main^": first} {
		got, err := src.Read(ctx, rev)
		if err != nil {
			t.Errorf("Read(%s): %v", rev, err)
			continue
		}
		if got.Commit != want {
			t.Errorf("Read(%s) = %s, want %s", rev, got.Commit, want)
		}
	}
	if _, err := src.Read(ctx, "no-such-branch"); err == nil {
		t.Errorf("Read of a missing revision succeeded")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no url":                {},
		"remote no workdir":     {URL: "https://example.com/r.git"},
		"path escapes":          {URL: "/tmp/x", Path: "../etc"},
		"missing keyring":       {URL: "/tmp/x", TrustedKeyring: "/nonexistent/keys.asc"},
		"credentials over http": {URL: "http://example.com/r.git", WorkDir: "/tmp", CredentialsFile: "/dev/null"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
