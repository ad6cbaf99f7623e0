package gitsource

import (
	"crypto/subtle"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/testenv"
)

const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// httpsGit serves the bare repository of r with the real `git http-backend` (as CGI)
// over TLS, behind basic auth accepting alice:s3cret or the token tok123; it returns
// the repository's URL and a CA file trusting the server.
func httpsGit(t *testing.T, r *repos) (url, caFile string) {
	t.Helper()
	testenv.RequireBinary(t, gitHTTPBackend)
	backend := &cgi.Handler{Path: gitHTTPBackend, Root: "/", Env: []string{
		"GIT_PROJECT_ROOT=" + filepath.Dir(r.bare), "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + r.home,
	}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		good := ok && (user == "alice" && subtle.ConstantTimeCompare([]byte(pass), []byte("s3cret")) == 1 ||
			user == "x-access-token" && pass == "tok123")
		if !good {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL + "/" + filepath.Base(r.bare), caFile
}

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "git-credentials")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Real git over HTTPS with basic auth: user:password and token files work, wrong
// credentials leave the source unhealthy with no secret in its status, and a rotated
// file is used at the next fetch.
func TestHTTPSCredentialsFile(t *testing.T) {
	r := newRepos(t)
	head := r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	url, ca := httpsGit(t, r)

	for _, tc := range []struct{ name, file string }{
		{"user and password", "alice:s3cret\n"},
		{"token", "\n  tok123  \n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := New(Config{URL: url, WorkDir: t.TempDir(), PollInterval: hour, CredentialsFile: writeSecret(t, tc.file), CAFile: ca})
			if err != nil {
				t.Fatal(err)
			}
			c := start(t, src)
			c.waitFor(t, head, 20*time.Second)
		})
	}

	creds := writeSecret(t, "alice:wrong-password\n")
	src, err := New(Config{URL: url, WorkDir: t.TempDir(), PollInterval: hour, CredentialsFile: creds, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, src)
	eventually(t, 20*time.Second, "an unhealthy status", func() bool {
		st := src.Status()
		return !st.Healthy && st.Message != "not checked yet"
	})
	st := src.Status()
	if !strings.Contains(st.Message, "authentication") || strings.Contains(st.Message, "wrong-password") {
		t.Fatalf("status with wrong credentials: %q", st.Message)
	}
	if len(c.all()) != 0 {
		t.Fatal("a revision was delivered with wrong credentials")
	}
	// Rotation: the file is read again at the next fetch.
	if err := os.WriteFile(creds, []byte("alice:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src.Trigger()
	c.waitFor(t, head, 20*time.Second)
}

// A token written into the URL itself (the user position) never appears in status or
// errors, whatever the fetch says.
func TestURLCredentialsRedactedInStatus(t *testing.T) {
	r := newRepos(t)
	r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	url, ca := httpsGit(t, r)
	leaky := strings.Replace(url, "https://", "https://ghp_leak0123@", 1) + "?access_token=qs_leak"
	src, err := New(Config{URL: leaky, WorkDir: t.TempDir(), PollInterval: hour, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	start(t, src)
	eventually(t, 20*time.Second, "the first check", func() bool { return src.Status().Message != "not checked yet" })
	st := src.Status()
	for _, s := range []string{st.URL, st.Message} {
		if strings.Contains(s, "leak") {
			t.Fatalf("a credential is shown in status: %+v", st)
		}
	}
	if !strings.Contains(st.URL, "https://xxxxx@127.0.0.1") {
		t.Fatalf("status URL %q, want the redacted URL", st.URL)
	}
}

func TestCredentialConfigErrors(t *testing.T) {
	dir := t.TempDir()
	empty := writeSecret(t, "\n\n")
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"credentials over http": {Config{URL: "http://h/r.git", CredentialsFile: empty}, "refusing to send credentials over plain http"},
		"credentials for ssh":   {Config{URL: "ssh://git@h/r.git", CredentialsFile: empty}, "a credentials file is for https remotes"},
		"ssh key for https":     {Config{URL: "https://h/r.git", SSHKeyFile: empty}, "an ssh key or known_hosts file is for ssh remotes"},
		"empty file":            {Config{URL: "https://h/r.git", CredentialsFile: empty}, "is empty"},
		"missing file":          {Config{URL: "https://h/r.git", CredentialsFile: filepath.Join(dir, "nope")}, "no such file"},
		"half a pair":           {Config{URL: "https://h/r.git", CredentialsFile: writeSecret(t, "alice:\n")}, "want user:password or a token"},
		"missing CA":            {Config{URL: "https://h/r.git", CAFile: filepath.Join(dir, "nope")}, "CA file"},
	} {
		tc.cfg.WorkDir = dir
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
