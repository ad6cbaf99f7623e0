// Package webtest drives the web view of a real Keelson cluster from Debian's
// chromium (through chromedp): a `keelson server` process following a Git repository
// and a `keelson agent` on a private containerd. The browser test (this package's
// tests) and the page benchmark (test/bench) share these helpers.
//
// Host names of its own, so it can share the machine with the other suites: pod range
// 10.247.0.0/16, service range 10.99.0.0/16, bridges and containerd namespaces
// starting "klw", no NodePort and no proxy table (the agent runs with
// --proxy-mode none: the page needs no Service data path).
package webtest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
)

const (
	ClusterCIDR = "10.247.0.0/16"
	ServiceCIDR = "10.99.0.0/16"
	// Node is the one agent's name.
	Node = "web-a"
)

// seq keeps clusters of one run apart (containerd namespaces).
var seq atomic.Int32

// Cluster is one server and one agent following a bare repository.
type Cluster struct {
	Env    *harness.Env
	Procs  *harness.Cluster
	Repo   *devenv.Repo
	Client *client.Client // trusts the cluster CA, with the read token
	URL    string         // the server's base URL (https://)
	// ReadToken is the read credential the server made at bootstrap (its read token
	// file): what a user signs in to the page with.
	ReadToken string
	spec      harness.RuntimeSpec
	dir       string
}

// Manifests is the desired state the tests push: an RC of the example web image
// with replicas pods behind a ClusterIP Service.
func Manifests(image string, replicas int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: %d
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: %s
        args: ["-listen", ":8080", "-message", "web view test"]
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
          periodSeconds: 1
        resources:
          requests:
            cpu: 50m
            memory: 32Mi
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
`, replicas, image)
}

// StartCluster starts the processes (prefix names the host objects: "t" for the
// test, "b" for the benchmark) and waits for the node; teardown is registered on t.
func StartCluster(t testing.TB, env *harness.Env, prefix string) *Cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "keelson-web-")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := devenv.NewRepo(filepath.Join(dir, "git"), "")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := harness.NodeAddress()
	if err != nil {
		t.Fatal(err)
	}
	n := seq.Add(1)
	c := &Cluster{Env: env, Repo: repo, dir: dir, spec: harness.RuntimeSpec{
		Containerd: env.Containerd, Namespace: fmt.Sprintf("klw%s%d-%s", prefix, n, Node),
		StateDir: filepath.Join(dir, "cluster", Node, "runtime"), Bridge: fmt.Sprintf("klw%s%d", prefix, n),
	}}
	// The bootstrap server makes the cluster CA and the tokens in its data dir; the
	// agent joins with the node token file, the test reads with the read token.
	procs, err := harness.StartCluster(harness.ClusterOptions{
		Bin: env.Bin, Dir: filepath.Join(dir, "cluster"), Servers: 1, RepoURL: repo.Bare,
		ServerArgs: []string{"--poll-interval", "500ms", "--cluster-cidr", ClusterCIDR, "--service-cidr", ServiceCIDR},
		Agents: []harness.AgentOptions{{Name: Node, ListenHost: addr, Args: []string{
			"--address", addr, "--containerd", env.Containerd, "--containerd-namespace", c.spec.Namespace,
			"--bridge", c.spec.Bridge, "--proxy-mode", "none", "--cluster-cidr", ClusterCIDR,
			"--host-gw=false", "--registry-insecure", env.Registry, "--dns-address", harness.DNSAddress(28, 0),
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Procs = procs
	c.URL = procs.ServerURLs()[0]
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs (tails):\n%s", procs.Logs(6000))
		}
		c.stop(t)
	})
	if c.ReadToken, err = procs.ReadToken(); err != nil {
		t.Fatal(err)
	}
	if c.Client, err = procs.Client(); err != nil {
		t.Fatal(err)
	}
	c.WaitPods(t, time.Minute, "node Ready", func(nodes []api.Node, _ []api.PodRecord) bool {
		return len(nodes) == 1 && nodes[0].Status == api.NodeReady
	})
	return c
}

func (c *Cluster) stop(t testing.TB) {
	for _, p := range c.Procs.Agents {
		p.Stop(20 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.spec.RemoveAll(ctx); err != nil {
		t.Logf("clean agent: %v", err)
	}
	for _, p := range c.Procs.Servers {
		p.Stop(10 * time.Second)
	}
	_ = devenv.UnmountUnder(c.dir)
	_ = os.RemoveAll(c.dir)
	if left := c.spec.Leftovers(context.Background()); left != "" {
		t.Errorf("left behind by the agent: %s", left)
	}
}

// Push writes web.yaml and pushes it to main; it returns the commit.
func (c *Cluster) Push(t testing.TB, content, msg string) string {
	t.Helper()
	if err := c.Repo.WriteFile("web.yaml", content); err != nil {
		t.Fatal(err)
	}
	sha, err := c.Repo.CommitAndPush(msg)
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// WaitPods polls the read API until cond holds.
func (c *Cluster) WaitPods(t testing.TB, timeout time.Duration, what string, cond func([]api.Node, []api.PodRecord) bool) {
	t.Helper()
	testenv.PollDetail(t, timeout, 100*time.Millisecond, what, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nodes, _, err := c.Client.Nodes(ctx, client.QueryOptions{})
		if err != nil {
			return false, err.Error()
		}
		pods, _, err := c.Client.Pods(ctx, client.QueryOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cond(nodes, pods), fmt.Sprintf("%d nodes, %d pods, ready: %d", len(nodes), len(pods), ReadyPods(pods))
	})
}

// ReadyPods counts the pods to run that are Ready.
func ReadyPods(pods []api.PodRecord) int {
	n := 0
	for _, p := range pods {
		if p.Desire == api.DesireRun && p.Status.Ready {
			n++
		}
	}
	return n
}

// Browser starts a headless chromium for t that reaches this cluster's server over
// https: locally a missing chromium skips the test, under CI=true it fails it.
//
// How the browser trusts the server: beyond its built-in roots, Debian's chromium
// takes the CAs it trusts from the NSS database in $HOME/.pki/nssdb or from
// machine-wide policy. Putting the cluster CA there would need certutil
// (libnss3-tools, which this project does not install) or a change to the machine
// that other suites share. So, in this test's browser
// only, chromium gets --ignore-certificate-errors-spki-list with one key: the
// server's, taken from a TLS handshake that Go has verified exactly as every API
// client does (ServerKeyPin: chains to the cluster CA, names the URL's host, carries
// the server role). Chromium then accepts that one server key and still refuses
// every other certificate it would refuse (TestPageInBrowser checks it against a
// server of a foreign CA); it is not the blanket --ignore-certificate-errors.
func (c *Cluster) Browser(t testing.TB) context.Context {
	t.Helper()
	return Browser(t, c.URL, c.Procs.CAFile())
}

// Browser starts chromium for the server at baseURL, accepting its certificate only
// after ServerKeyPin verified it with the cluster CA in caFile.
func Browser(t testing.TB, baseURL, caFile string) context.Context {
	t.Helper()
	pin, err := ServerKeyPin(baseURL, caFile)
	if err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	return browser(t, pin)
}

// ServerKeyPin does a TLS handshake with the server at baseURL, verifying its
// certificate with the cluster CA in caFile as the API clients do (host name of the
// URL, server role), and returns the base64 SHA-256 of the certificate's public key
// (SubjectPublicKeyInfo), the form chromium's --ignore-certificate-errors-spki-list
// takes.
func ServerKeyPin(baseURL, caFile string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("server URL %s is not https", baseURL)
	}
	cfg, err := client.TLSFiles{CAFile: caFile}.Config()
	if err != nil {
		return "", err
	}
	cfg.ServerName = u.Hostname()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", u.Host, cfg)
	if err != nil {
		return "", fmt.Errorf("TLS to %s with the cluster CA: %w", u.Host, err)
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// browser starts chromium accepting, beyond what it trusts itself, exactly the
// server keys of spkiPins (see (*Cluster).Browser).
func browser(t testing.TB, spkiPins ...string) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Missing(t, "chromium is not installed (apt-get install -y chromium; scripts/install-deps.sh does)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root, where chromium's sandbox refuses to start
		chromedp.WindowSize(1280, 1000),
		// A profile of its own (chromium also wants one to honour the key list below).
		chromedp.UserDataDir(t.TempDir()),
	)
	if len(spkiPins) > 0 {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(spkiPins, ",")))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Login opens the server's root (which redirects to the page, then to the login
// form) and signs in with token.
func Login(base, token string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#pods-table")),
	)
}

// goTo switches the page's view by its URL fragment: an in-page navigation, the
// page instance stays.
func goTo(fragment string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[chromedp.Void]("location.hash = "+strconv.Quote(fragment)+", undefined")(ctx, t)
		return err
	})
}

// Until waits (inside the browser, up to timeout) until the JavaScript expression is
// true.
func Until(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))(ctx, t)
		return err
	})
}

// ShotDir is where screenshots go: $KEELSON_WEB_SCREENSHOTS if set, else the test's
// artifact directory (kept with `go test -artifacts`).
func ShotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KEELSON_WEB_SCREENSHOTS")
	if dir == "" {
		if a, ok := t.(interface{ ArtifactDir() string }); ok {
			dir = a.ArtifactDir()
		} else {
			dir = t.TempDir()
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Screenshot writes the whole page as dir/name.png.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("write %s: %v", p, err)
		return
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
}

// PageText is the visible text of the page, for failure messages.
func PageText(ctx context.Context) string {
	s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	return strings.TrimSpace(s)
}
