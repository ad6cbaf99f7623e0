package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/node/containerd"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/chaos/model"
	"github.com/keelson/keelson/test/harness"
)

// Timeouts of the soak's cluster: short, so a lost node is replaced within one cycle
// (the defaults are 10 s / 20 s, as Kubernetes'). What they change is how soon the
// leader acts, not what it does.
const (
	nodeGrace       = "2s"
	evictionTimeout = "4s"
	clusterCIDR     = "10.249.0.0/16"
)

// server is one keelson server process in its own namespace. Incarnation counts its
// starts: a replica's own reads must never go backwards within one incarnation (one
// that lost its data dir starts from nothing again).
type server struct {
	*host
	proc        *devenv.Proc
	dataDir     string
	incarnation int
}

func (s *server) url() string { return "https://" + net.JoinHostPort(s.Addr, "7480") }

// scope names this incarnation for the recorder.
func (s *server) scope() string { return fmt.Sprintf("%s#%d", s.Name, s.incarnation) }

// agent is one keelson agent in its own namespace, with what it owns in containerd.
type agent struct {
	*host
	proc *devenv.Proc
	spec harness.RuntimeSpec
}

// cluster is the soak's servers and agents on the test network.
type cluster struct {
	t       *testing.T
	env     *harness.Env
	dir     string
	net     *network
	repo    *devenv.Repo
	creds   harness.Credentials // a copy of the bootstrap server's CA and tokens
	servers []*server
	agents  []*agent
	pusher  *pusher

	mu           sync.Mutex // guards the servers' incarnations
	teardownOnce sync.Once
}

// scopeOf is the recorder scope of s's current incarnation.
func (c *cluster) scopeOf(s *server) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return s.scope()
}

// startCluster makes the network, the repository with the first app, nServers servers (s1 bootstraps, the
// others join) and nAgents agents, and waits until every server is a voter and every
// node is Ready.
func startCluster(t *testing.T, env *harness.Env, nServers, nAgents int, rec *model.Recorder) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp(env.Dir, "chaos-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, env: env, dir: dir}
	t.Cleanup(func() { // registered first, runs last: the dir holds the pods' netns mounts
		_ = devenv.UnmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	c.net = newNetwork(t)
	if c.repo, err = devenv.NewRepo(filepath.Join(dir, "git"), ""); err != nil {
		t.Fatal(err)
	}
	// The first desired state is on the branch before any server starts.
	c.pusher = newPusher(c.repo, rec, env.WebV1, env.WebV2)
	if err := c.pusher.push(desired{Replicas: 2, Image: env.WebV1}, "chaos: first app"); err != nil {
		t.Fatal(err)
	}
	for i := range nServers {
		name := fmt.Sprintf("s%d", i+1)
		c.servers = append(c.servers, &server{host: c.net.addHost(t, name, i+1), dataDir: filepath.Join(dir, name)})
	}
	for i := range nAgents {
		name := fmt.Sprintf("n%d", i+1)
		a := &agent{host: c.net.addHost(t, name, 11+i)}
		a.spec = harness.RuntimeSpec{Containerd: env.Containerd, Namespace: "kchaos-" + c.net.id + "-" + name,
			StateDir: filepath.Join(dir, name, "runtime"), Bridge: "keelson0", ProxyTable: "keelson"}
		c.agents = append(c.agents, a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, a := range c.agents {
		if err := prePull(ctx, a.spec, env.Registry, env.WebV1, env.WebV2); err != nil {
			t.Fatal(err)
		}
	}

	unregister := shared.OnInterrupt(c.teardown)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs (tails):\n%s", c.logs(4000))
		}
		c.teardown()
		unregister()
	})

	if err := c.startServer(c.servers[0], true); err != nil {
		t.Fatal(err)
	}
	boot := harness.Credentials{ServerDataDir: c.servers[0].dataDir}
	if err := boot.Wait(c.servers[0].proc, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Any server may lose its data dir later, the bootstrap one too: keep the
	// credentials where an operator would, outside every server.
	c.creds = harness.Credentials{ServerDataDir: filepath.Join(dir, "creds")}
	for _, f := range []string{boot.CAFile(), boot.ServerTokenFile(), boot.NodeTokenFile(), boot.ReadTokenFile()} {
		rel, _ := filepath.Rel(boot.ServerDataDir, f)
		if err := copyFile(f, filepath.Join(c.creds.ServerDataDir, rel)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range c.servers[1:] {
		if err := c.startServer(s, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range c.agents {
		if err := c.startAgent(a); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// startServer starts (or restarts) s. The bootstrap server's first start makes the
// cluster; every other start joins through the other servers with the server token
// (a server that kept its data dir just rejoins as the member it is).
func (c *cluster) startServer(s *server, bootstrap bool) error {
	args := []string{"--net=" + harness.NetNSPath(s.NetNS), c.env.Bin, "server", "--id", s.Name,
		"--data-dir", s.dataDir,
		"--http-addr", net.JoinHostPort(s.Addr, "7480"), "--raft-addr", net.JoinHostPort(s.Addr, "7481"),
		"--repo", c.repo.Bare, "--poll-interval", "1s",
		"--node-grace-period", nodeGrace, "--eviction-timeout", evictionTimeout, "--cluster-cidr", clusterCIDR,
	}
	if bootstrap {
		args = append(args, "--bootstrap")
	} else {
		var join []string
		for _, o := range c.servers {
			if o != s {
				join = append(join, o.url())
			}
		}
		args = append(args, "--join", strings.Join(join, ","), "--token-file", c.creds.ServerTokenFile())
	}
	if s.proc == nil {
		s.proc = &devenv.Proc{Name: "server " + s.Name, Bin: "nsenter", LogPath: filepath.Join(c.dir, "logs", s.Name+".log")}
	}
	s.proc.Args = args
	c.mu.Lock()
	s.incarnation++
	c.mu.Unlock()
	return s.proc.Start()
}

// startAgent starts (or restarts) a's agent in its namespace.
func (c *cluster) startAgent(a *agent) error {
	var urls []string
	for _, s := range c.servers {
		urls = append(urls, s.url())
	}
	i := 0
	fmt.Sscanf(a.Name, "n%d", &i)
	if a.proc == nil {
		a.proc = &devenv.Proc{Name: "agent " + a.Name, Bin: "nsenter", LogPath: filepath.Join(c.dir, "logs", a.Name+".log"), Args: []string{
			"--net=" + harness.NetNSPath(a.NetNS), c.env.Bin, "agent", "--name", a.Name,
			"--server", strings.Join(urls, ","), "--token-file", c.creds.NodeTokenFile(),
			"--address", a.Addr, "--listen", net.JoinHostPort(a.Addr, "7482"),
			"--data-dir", filepath.Join(c.dir, a.Name),
			"--containerd", c.env.Containerd, "--containerd-namespace", a.spec.Namespace,
			"--cluster-cidr", clusterCIDR, "--host-gw=true", "--registry-insecure", c.env.Registry,
			"--dns-address", harness.DNSAddress(33, i-1),
		}}
	}
	return a.proc.Start()
}

// client reads with the read credential from these servers (default: all).
func (c *cluster) client(servers ...*server) *client.Client {
	if len(servers) == 0 {
		servers = c.servers
	}
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.url())
	}
	cl, err := c.creds.Client(urls...)
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

func (c *cluster) logs(n int64) string {
	var b strings.Builder
	for _, p := range c.procs() {
		fmt.Fprintf(&b, "----- %s (%s) -----\n%s\n", p.Name, p.LogPath, p.Tail(n))
	}
	return b.String()
}

func (c *cluster) procs() []*devenv.Proc {
	var ps []*devenv.Proc
	for _, s := range c.servers {
		if s.proc != nil {
			ps = append(ps, s.proc)
		}
	}
	for _, a := range c.agents {
		if a.proc != nil {
			ps = append(ps, a.proc)
		}
	}
	return ps
}

// teardown stops the agents (SIGTERM), removes the pods they keep by design (inside
// each node's namespace, where CNI DEL must run), stops the servers, deletes the
// network. Safe to call twice.
func (c *cluster) teardown() {
	c.teardownOnce.Do(func() {
		_ = c.net.heal()
		for _, a := range c.agents {
			if a.proc != nil {
				a.proc.Stop(30 * time.Second)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, a := range c.agents {
			if err := removePods(ctx, a); err != nil {
				c.t.Errorf("remove the pods of %s: %v", a.Name, err)
			}
		}
		for _, s := range c.servers {
			if s.proc != nil {
				s.proc.Stop(10 * time.Second)
			}
		}
		if err := c.net.delete(); err != nil {
			c.t.Errorf("delete the network: %v", err)
		}
		for _, a := range c.agents {
			// The bridge and the table were inside the deleted namespace: only
			// containerd is left to ask.
			spec := a.spec
			spec.Bridge, spec.ProxyTable = "", ""
			if left := spec.Leftovers(context.Background()); left != "" {
				c.t.Errorf("left behind by agent %s: %s", a.Name, left)
			}
		}
	})
}

// prePull puts the images into an agent's containerd namespace from the root network
// namespace, where the registry is (see test/multinode: the agent pulls in its own
// process, inside its node's namespace). A tagged image is IfNotPresent: agents never
// pull.
func prePull(ctx context.Context, spec harness.RuntimeSpec, registry string, refs ...string) error {
	rt, err := containerd.New(ctx, containerd.Config{Address: spec.Containerd, Namespace: spec.Namespace,
		StateDir: spec.StateDir, InsecureRegistries: []string{registry}})
	if err != nil {
		return fmt.Errorf("pre-pull: %w", err)
	}
	defer rt.Close()
	for _, ref := range refs {
		if _, err := rt.EnsureImage(ctx, ref, "IfNotPresent"); err != nil {
			return fmt.Errorf("pre-pull %s into %s: %w", ref, spec.Namespace, err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
