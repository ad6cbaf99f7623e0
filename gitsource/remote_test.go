package gitsource

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

func newFileRemote(t *testing.T, r *repos, poll time.Duration) *Source {
	t.Helper()
	src, err := New(Config{URL: "file://" + r.bare, WorkDir: t.TempDir(), PollInterval: poll})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src
}

func TestRemotePolling(t *testing.T) {
	r := newRepos(t)
	first := r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	src := newFileRemote(t, r, 20*time.Millisecond)
	c := start(t, src)
	c.waitFor(t, first, 10*time.Second)

	second := r.commit("second", map[string]string{"b.yaml": pod("b")})
	r.push("main")
	if rev := c.waitFor(t, second, 10*time.Second); rev.Parent != first {
		t.Errorf("parent = %s, want %s", rev.Parent, first)
	}
	if st := src.Status(); !strings.HasPrefix(st.URL, "file://") || st.Branch != "main" {
		t.Errorf("status = %+v", st)
	}
}

// With a long poll interval only Trigger (the webhook) can bring a new head in; it
// also covers force-push, a deleted branch and a damaged clone.
func TestRemoteTriggerForcePushDeleteAndReclone(t *testing.T) {
	r := newRepos(t)
	a := r.commit("a", map[string]string{"pod.yaml": pod("pod")})
	b := r.commit("b", map[string]string{"b.yaml": pod("b")})
	r.push("main", "main:keep")
	src, err := New(Config{URL: "file://" + r.bare, WorkDir: t.TempDir(), PollInterval: hour,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, src)
	c.waitFor(t, b, 10*time.Second)

	// Force-push: the branch tip is what is desired.
	r.git(r.work, "reset", "-q", "--hard", a)
	rewritten := r.commit("rewritten", map[string]string{"c.yaml": pod("c")})
	r.push("--force", "main")
	src.Trigger()
	if rev := c.waitFor(t, rewritten, 10*time.Second); rev.Parent != a {
		t.Errorf("parent = %s, want %s", rev.Parent, a)
	}

	// Deleted branch: unhealthy, last good kept, nothing delivered.
	r.git(r.bare, "update-ref", "-d", "refs/heads/main")
	src.Trigger()
	eventually(t, 10*time.Second, "unhealthy after branch deletion", func() bool {
		st := src.Status()
		return !st.Healthy && strings.Contains(st.Message, "not found")
	})
	if st := src.Status(); st.Head != rewritten {
		t.Errorf("head = %s, want last good %s", st.Head, rewritten)
	}
	if n := len(c.all()); n != 2 {
		t.Errorf("%d deliveries, want 2", n)
	}

	// Damaged clone (objects lost): the next fetch still brings the new head.
	r.push("main")
	clones, err := filepath.Glob(filepath.Join(src.cfg.WorkDir, "*.git"))
	if err != nil || len(clones) != 1 {
		t.Fatalf("clones in work dir: %v %v", clones, err)
	}
	if err := os.RemoveAll(filepath.Join(clones[0], "objects")); err != nil {
		t.Fatal(err)
	}
	next := r.commit("after damage", map[string]string{"d.yaml": pod("d")})
	r.push("main")
	src.Trigger()
	c.waitFor(t, next, 10*time.Second)
	eventually(t, 5*time.Second, "healthy after re-clone", func() bool { return src.Status().Healthy })
}

func TestRemoteUnreachable(t *testing.T) {
	src, err := New(Config{URL: "file://" + filepath.Join(t.TempDir(), "nothing.git"), WorkDir: t.TempDir(), PollInterval: hour})
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, src)
	eventually(t, 10*time.Second, "unhealthy status", func() bool {
		st := src.Status()
		return !st.Healthy && st.Message != "" && !st.CheckedAt.IsZero()
	})
	if n := len(c.all()); n != 0 {
		t.Errorf("%d deliveries from an unreachable remote", n)
	}
}

func TestRemoteReadBranchesAndTags(t *testing.T) {
	r := newRepos(t)
	first := r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.git(r.work, "tag", "v1")
	r.git(r.work, "checkout", "-q", "-b", "pr-7")
	pr := r.commit("pr", map[string]string{"b.yaml": pod("b")})
	r.push("main", "pr-7", "v1")
	src := newFileRemote(t, r, hour)
	ctx := context.Background()
	for rev, want := range map[string]string{"main": first, "pr-7": pr, "v1": first, "pr-7~1": first} {
		got, err := src.Read(ctx, rev)
		if err != nil {
			t.Errorf("Read(%s): %v", rev, err)
			continue
		}
		if got.Commit != want {
			t.Errorf("Read(%s) = %s, want %s", rev, got.Commit, want)
		}
	}
	// A branch deleted on the remote is not read from a stale copy in the clone.
	r.push("--delete", "pr-7")
	if got, err := src.Read(ctx, "pr-7"); err == nil {
		t.Errorf("Read of a deleted branch returned %s", got.Commit)
	}
}

// A missing object while reading means a damaged clone: it is deleted, cloned again,
// and the read retried once.
func TestRemoteReclonesOnMissingObject(t *testing.T) {
	r := newRepos(t)
	r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	src := newFileRemote(t, r, hour)
	marker := ""
	calls := 0
	err := src.remote.with(context.Background(), src.remote.branchSpec(), func(*git.Repository) error {
		calls++
		if calls == 1 {
			marker = filepath.Join(src.remote.dir, "marker")
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return fmt.Errorf("read blob: %w", plumbing.ErrObjectNotFound)
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("with: err %v after %d calls, want success on the 2nd", err, calls)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("clone was not replaced (marker still there: %v)", err)
	}
}

// testWriter sends log output to t.Log so that it shows with the failing test.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
