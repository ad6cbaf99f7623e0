package gitsource

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
)

// gitEnv makes `git` behave the same on a fresh machine and on a developer's: no
// global or system config (no signing, no hooks, no default branch surprises), a
// fixed identity.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Alice Author",
		"GIT_AUTHOR_EMAIL=alice@example.com",
		"GIT_COMMITTER_NAME=Carl Committer",
		"GIT_COMMITTER_EMAIL=carl@example.com",
		"GIT_TERMINAL_PROMPT=0",
	)
}

// repos is a bare "remote" repository plus a work clone that pushes to it, both made
// by the real git command.
type repos struct {
	t    testing.TB
	home string
	bare string // the push target: watched in place, or served as file://
	work string
}

func newRepos(t testing.TB) *repos {
	t.Helper()
	testenv.RequireBinary(t, "git")
	dir := t.TempDir()
	r := &repos{t: t, home: filepath.Join(dir, "home"), bare: filepath.Join(dir, "remote.git"), work: filepath.Join(dir, "work")}
	if err := os.MkdirAll(r.home, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git(dir, "init", "-q", "--bare", "-b", "main", r.bare)
	r.git(dir, "init", "-q", "-b", "main", r.work)
	r.git(r.work, "remote", "add", "origin", r.bare)
	return r
}

// git runs git in dir and returns its trimmed stdout, failing the test on error.
func (r *repos) git(dir string, args ...string) string {
	r.t.Helper()
	full := append([]string{"-c", "user.name=Alice Author", "-c", "user.email=alice@example.com",
		"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = dir
	cmd.Env = gitEnv(r.home)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (path → content; "" content deletes) in the work clone and
// commits them, returning the new commit hash.
func (r *repos) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for p, content := range files {
		full := filepath.Join(r.work, filepath.FromSlash(p))
		if content == "" {
			r.git(r.work, "rm", "-q", "--", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		r.git(r.work, "add", "--", p)
	}
	r.git(r.work, "commit", "-q", "--allow-empty", "-m", msg)
	return r.git(r.work, "rev-parse", "HEAD")
}

func (r *repos) push(args ...string) {
	r.t.Helper()
	r.git(r.work, append([]string{"push", "-q", "origin"}, args...)...)
}

// pod is a valid Pod manifest; each file of a commit needs its own name.
func pod(name string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  containers:
  - name: web
    image: example.com/web:1
`
}

// collector records delivered revisions for assertions.
type collector struct {
	mu   sync.Mutex
	revs []api.Revision
}

func (c *collector) deliver(rev api.Revision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revs = append(c.revs, rev)
}

func (c *collector) all() []api.Revision {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]api.Revision(nil), c.revs...)
}

// waitFor polls until a revision of commit has been delivered and returns it.
func (c *collector) waitFor(t testing.TB, commit string, within time.Duration) api.Revision {
	t.Helper()
	var got api.Revision
	eventually(t, within, "revision "+commit+" delivered", func() bool {
		for _, r := range c.all() {
			if r.Commit == commit {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Poll(t, within, 2*time.Millisecond, what, cond)
}

// start runs src until the test ends, recording deliveries.
func start(t testing.TB, src *Source) *collector {
	t.Helper()
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c.deliver) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return c
}
