package gittrust

import (
	"context"
	"crypto/subtle"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/test/harness"
)

const (
	httpBackend = "/usr/lib/git-core/git-http-backend"
	gitPassword = "pw-9f2c41e7" // must never appear in status or logs
)

func TestServerWithCredentialFileAndSignedCommits(t *testing.T) {
	testenv.RequireBinary(t, "git", "ssh-keygen")
	testenv.RequireFile(t, httpBackend)
	dir := t.TempDir()
	bin := keelsonBinary(t, dir)
	g := newGit(t, dir)

	key := filepath.Join(dir, "alice_ed25519")
	run(t, dir, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", key)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	signers := writeFile(t, dir, "allowed_signers", `alice@example.com namespaces="git" `+string(pub))
	creds := writeFile(t, dir, "git-credentials", "alice:"+gitPassword+"\n")
	url, ca := serveHTTPS(t, g.bare)

	v1 := g.signedCommit(key, "v1", "pod.yaml", pod("web", "v1"))
	g.push("main")
	c, err := harness.StartCluster(harness.ClusterOptions{
		Bin: bin, Dir: filepath.Join(dir, "cluster"), Servers: 1, RepoURL: url,
		ServerArgs: []string{"--git-credentials-file", creds, "--git-ca-file", ca, "--allowed-signers", signers, "--poll-interval", "100ms"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	// The read API over HTTPS: the cluster CA and the read token the bootstrap made.
	cl, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	status := func() api.StatusResponse {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, _ := cl.Status(ctx)
		return st
	}
	waitApplied := func(commit string) {
		t.Helper()
		testenv.PollDetail(t, 60*time.Second, 50*time.Millisecond, "commit "+commit[:12]+" applied", func() (bool, string) {
			st := status()
			applied := ""
			if st.Applied != nil {
				applied = st.Applied.Commit
			}
			return applied == commit, "applied " + applied + ", source " + st.Source.Message
		})
	}
	waitRefused := func(commit, want string) {
		t.Helper()
		testenv.PollDetail(t, 60*time.Second, 50*time.Millisecond, "commit "+commit[:12]+" refused", func() (bool, string) {
			st := status()
			if st.Refused == nil || st.Refused.Commit != commit {
				return false, "not refused yet"
			}
			for _, e := range st.Refused.Errors {
				if strings.Contains(e.Error(), want) {
					return true, ""
				}
			}
			return false, "refused with other errors"
		})
	}

	// HTTPS with the credentials from the file, signed by an allowed SSH key.
	waitApplied(v1)
	v2 := g.signedCommit(key, "v2", "pod.yaml", pod("web", "v2"))
	g.push("main")
	waitApplied(v2)

	// A force-push back to the older signed commit is refused and reported.
	g.push("--force", v1+":main")
	waitRefused(v1, "commit "+v1[:12]+": history: does not descend from the applied commit "+v2[:12])

	// Back on top of v2: an absurd replica count is refused with its file:line.
	g.git("reset", "-q", "--hard", v2)
	big := g.signedCommit(key, "scale", "rc.yaml", `apiVersion: v1
kind: ReplicationController
metadata:
  name: big
spec:
  replicas: 1000000000
  selector: {app: big}
  template:
    metadata:
      labels: {app: big}
    spec:
      containers: [{name: c, image: example.com/big:1}]
`)
	g.push("--force", "main")
	waitRefused(big, "rc.yaml:6:3: ReplicationController/big: spec.replicas: invalid value 1000000000: must be at most 50000")
	if st := status(); st.Applied == nil || st.Applied.Commit != v2 {
		t.Fatalf("the cluster left the last good revision: %+v", st.Applied)
	}

	// The password is nowhere: status, logs.
	st := status()
	if strings.Contains(st.Source.URL+st.Source.Message, gitPassword) || !st.Source.Healthy {
		t.Fatalf("source status %+v", st.Source)
	}
	if logs := c.Logs(1 << 20); strings.Contains(logs, gitPassword) {
		t.Fatalf("the Git password is in the server's log:\n%s", logs)
	}
}

// keelsonBinary is $KEELSON_BIN or a fresh build.
func keelsonBinary(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("KEELSON_BIN"); bin != "" {
		return bin
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "keelson")
	run(t, root, nil, "go", "build", "-o", bin, "./cmd/keelson")
	return bin
}

// serveHTTPS serves the bare repository with the real git http-backend over TLS,
// behind basic auth, and returns its URL and a CA file trusting the server.
func serveHTTPS(t *testing.T, bare string) (url, caFile string) {
	t.Helper()
	backend := &cgi.Handler{Path: httpBackend, Root: "/", Env: []string{
		"GIT_PROJECT_ROOT=" + filepath.Dir(bare), "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1",
	}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "alice" || subtle.ConstantTimeCompare([]byte(pass), []byte(gitPassword)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	caFile = writeFile(t, t.TempDir(), "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	return srv.URL + "/" + filepath.Base(bare), caFile
}

// gitRepo is a bare repository and a work clone pushing to it, driven by real git.
type gitRepo struct {
	t          *testing.T
	bare, work string
	env        []string
}

func newGit(t *testing.T, dir string) *gitRepo {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	g := &gitRepo{t: t, bare: filepath.Join(dir, "repo.git"), work: filepath.Join(dir, "work"), env: append(os.Environ(),
		"HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com", "GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com")}
	run(t, dir, g.env, "git", "init", "-q", "--bare", "-b", "main", g.bare)
	run(t, dir, g.env, "git", "init", "-q", "-b", "main", g.work)
	g.git("remote", "add", "origin", g.bare)
	return g
}

func (g *gitRepo) git(args ...string) string {
	g.t.Helper()
	return run(g.t, g.work, g.env, "git", args...)
}

func (g *gitRepo) signedCommit(key, msg, file, content string) string {
	g.t.Helper()
	writeFile(g.t, g.work, file, content)
	g.git("add", "--", file)
	g.git("-c", "gpg.format=ssh", "-c", "user.signingkey="+key, "commit", "-q", "-S", "-m", msg)
	return g.git("rev-parse", "HEAD")
}

func (g *gitRepo) push(args ...string) {
	g.t.Helper()
	g.git(append([]string{"push", "-q", "origin"}, args...)...)
}

func pod(name, tag string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  containers:\n  - name: web\n    image: example.com/web:" + tag + "\n"
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
