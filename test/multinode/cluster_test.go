package multinode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/testenv"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/node/containerd"
	"github.com/keelson/keelson/node/hostgw"
	"github.com/keelson/keelson/test/harness"
)

// serverURL is the API address of the server, inside n1.
const serverURL = "https://" + addrN1 + ":7480"

// node is one node host: its namespace, address and agent.
type node struct {
	Name    string // node name the agent registers
	NetNS   string
	Address string
	Spec    harness.RuntimeSpec // containerd namespace and runtime state of its agent
	Agent   *devenv.Proc
	PodCIDR string // allocated by the leader at registration
}

// cluster is the server and the two agents of the test, each in its node's namespace.
type cluster struct {
	t      *testing.T
	env    *harness.Env
	dir    string
	topo   *topology
	repo   *devenv.Repo
	server *devenv.Proc
	creds  harness.Credentials // the bootstrap server's CA and tokens
	nodes  []*node

	teardownOnce sync.Once
}

// startCluster makes the topology and the repository, pre-pulls the image, starts the
// server in n1 and an agent in each namespace, and waits for both nodes to be Ready.
// Cleanup tears everything down in order and checks that nothing is left.
func startCluster(t *testing.T, env *harness.Env) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp(env.Dir, "mn-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, env: env, dir: dir}
	// Registered first, so it runs last: the directory holds the pods' netns mounts.
	t.Cleanup(func() {
		_ = devenv.UnmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	c.topo = newTopology(t)

	// An empty desired state first: the RC is pushed once both nodes are Ready, so the
	// scheduler can spread its pods over both.
	seed := filepath.Join(dir, "seed")
	if err := os.MkdirAll(seed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, "README.md"), []byte("multinode test app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c.repo, err = devenv.NewRepo(filepath.Join(dir, "git"), seed); err != nil {
		t.Fatal(err)
	}

	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	id := hex.EncodeToString(suffix)
	for i, ns := range []string{c.topo.N1, c.topo.N2} {
		name := fmt.Sprintf("n%d", i+1)
		c.nodes = append(c.nodes, &node{
			Name: name, NetNS: ns, Address: []string{addrN1, addrN2}[i],
			Spec: harness.RuntimeSpec{
				Containerd: env.Containerd, Namespace: "kls-mn-" + name + "-" + id,
				StateDir: filepath.Join(dir, name, "runtime"),
			},
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range c.nodes {
		if err := prePull(ctx, n.Spec, env.Registry, env.WebV1); err != nil {
			t.Fatal(err)
		}
	}

	unregister := shared.OnInterrupt(c.teardown)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keelson status:\n%s", c.cliText("status"))
			t.Logf("keelson get pods -o wide:\n%s", c.cliText("get", "pods", "-o", "wide"))
			t.Logf("process logs (tails):\n%s", c.logs(6000))
		}
		c.teardown()
		unregister()
		c.checkNothingLeft()
	})

	c.server = &devenv.Proc{Name: "server", Bin: "nsenter", LogPath: filepath.Join(dir, "logs", "server.log"), Args: []string{
		"--net=" + harness.NetNSPath(c.topo.N1), env.Bin, "server", "--id", "s1", "--bootstrap",
		"--data-dir", filepath.Join(dir, "server"),
		"--http-addr", addrN1 + ":7480", "--raft-addr", addrN1 + ":7481",
		"--repo", c.repo.Bare,
	}}
	if err := c.server.Start(); err != nil {
		t.Fatal(err)
	}
	// The agents join with the node token the bootstrap made.
	c.creds = harness.Credentials{ServerDataDir: filepath.Join(dir, "server")}
	if err := c.creds.Wait(c.server, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		n.Agent = &devenv.Proc{Name: "agent " + n.Name, Bin: "nsenter", LogPath: filepath.Join(dir, "logs", n.Name+".log"), Args: []string{
			"--net=" + harness.NetNSPath(n.NetNS), env.Bin, "agent", "--name", n.Name,
			"--server", serverURL, "--token-file", c.creds.NodeTokenFile(),
			"--address", n.Address, "--listen", net.JoinHostPort(n.Address, "7482"),
			"--data-dir", filepath.Join(dir, n.Name),
			"--containerd", env.Containerd, "--containerd-namespace", n.Spec.Namespace,
			"--host-gw=true", "--registry-insecure", env.Registry,
		}}
		if err := n.Agent.Start(); err != nil {
			t.Fatal(err)
		}
	}
	c.eventually(time.Minute, "both nodes Ready with a pod CIDR", func(ctx context.Context) error {
		var nodes []struct {
			Name, Address, PodCIDR, Status string
		}
		if err := c.cliJSON(ctx, &nodes, "get", "nodes"); err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes {
			if n.Status == "Ready" && n.PodCIDR != "" {
				ready++
			}
		}
		if ready != len(c.nodes) {
			return fmt.Errorf("%d of %d nodes Ready: %+v", ready, len(c.nodes), nodes)
		}
		for _, n := range c.nodes {
			for _, got := range nodes {
				if got.Name == n.Name {
					n.PodCIDR = got.PodCIDR
				}
			}
		}
		return nil
	})
	return c
}

// prePull puts the image into an agent's containerd namespace from the root network
// namespace. The agent pulls in its own process (containerd's Go client resolves and
// fetches; the daemon only stores), so an agent inside a node namespace cannot reach
// the registry on the root namespace's 127.0.0.1. With the image present and the
// default pull policy of a tagged image (IfNotPresent) the agent never pulls.
func prePull(ctx context.Context, spec harness.RuntimeSpec, registry, ref string) error {
	rt, err := containerd.New(ctx, containerd.Config{Address: spec.Containerd, Namespace: spec.Namespace,
		StateDir: spec.StateDir, InsecureRegistries: []string{registry}})
	if err != nil {
		return fmt.Errorf("pre-pull %s: %w", ref, err)
	}
	defer rt.Close()
	if _, err := rt.EnsureImage(ctx, ref, "IfNotPresent"); err != nil {
		return fmt.Errorf("pre-pull %s into %s: %w", ref, spec.Namespace, err)
	}
	return nil
}

// cli runs the real keelson CLI inside n1 against the server and returns its stdout.
func (c *cluster) cli(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"--net=" + harness.NetNSPath(c.topo.N1), c.env.Bin}, args...)
	full = append(full, "--server", serverURL, "--no-color")
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Env = append(os.Environ(), c.creds.CLIEnv()...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("keelson %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// cliJSON runs `keelson <args> -o json` and decodes the answer into v.
func (c *cluster) cliJSON(ctx context.Context, v any, args ...string) error {
	out, err := c.cli(ctx, append(args, "-o", "json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("keelson %s -o json: %w", strings.Join(args, " "), err)
	}
	return nil
}

// cliText is the CLI's output (or its error) for a failing test's log.
func (c *cluster) cliText(args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.cli(ctx, args...)
	if err != nil {
		return err.Error()
	}
	return string(out)
}

// eventually polls cond until it succeeds or timeout passes, failing the test with the
// last error. It stops early when the server or an agent has exited.
func (c *cluster) eventually(timeout time.Duration, what string, cond func(ctx context.Context) error) {
	c.t.Helper()
	testenv.PollDetail(c.t, timeout, 250*time.Millisecond, what, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return true, ""
		}
		for _, p := range c.procs() {
			if !p.Running() {
				c.t.Fatalf("%s: %s exited: %v", what, p.Name, err)
			}
		}
		return false, err.Error()
	})
}

func (c *cluster) procs() []*devenv.Proc {
	var ps []*devenv.Proc
	if c.server != nil {
		ps = append(ps, c.server)
	}
	for _, n := range c.nodes {
		if n.Agent != nil {
			ps = append(ps, n.Agent)
		}
	}
	return ps
}

func (c *cluster) logs(n int64) string {
	var b strings.Builder
	for _, p := range c.procs() {
		fmt.Fprintf(&b, "----- %s (%s) -----\n%s\n", p.Name, p.LogPath, p.Tail(n))
	}
	return b.String()
}

// teardown stops the agents (SIGTERM: they remove their proxy table and routes), removes
// the pods they leave by design (inside each node's namespace, where CNI DEL must run),
// stops the server and deletes the namespaces. Safe to call twice.
func (c *cluster) teardown() {
	c.teardownOnce.Do(func() {
		for _, n := range c.nodes {
			if n.Agent != nil {
				n.Agent.Stop(30 * time.Second)
			}
		}
		for _, n := range c.nodes {
			if left := agentHostState(n.NetNS); left != "" {
				c.t.Errorf("agent %s exited (SIGTERM) but left in its node namespace: %s", n.Name, left)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, n := range c.nodes {
			if !harness.NetNSExists(n.NetNS) {
				continue
			}
			cmd, err := helperCmd(ctx, n.NetNS, "removepods", n.Spec.Containerd, n.Spec.Namespace, n.Spec.StateDir)
			if err == nil {
				var out []byte
				if out, err = cmd.CombinedOutput(); err != nil {
					err = fmt.Errorf("%w: %s", err, out)
				}
			}
			if err != nil {
				c.t.Errorf("remove the pods of %s: %v", n.Name, err)
			}
		}
		if c.server != nil {
			c.server.Stop(10 * time.Second)
		}
		if err := c.topo.delete(); err != nil {
			c.t.Errorf("delete namespaces: %v", err)
		}
	})
}

// agentHostState describes what an agent programs on its node and must remove when it
// stops (its host-gw routes, its nftables tables); "" when none is there or the
// namespace is already gone.
func agentHostState(ns string) string {
	if !harness.NetNSExists(ns) {
		return ""
	}
	var left []string
	if out, err := exec.Command("ip", "-n", ns, "route", "show", "proto", strconv.Itoa(int(hostgw.Protocol))).Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		left = append(left, "host-gw routes: "+strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "tables").Output(); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.Contains(line, "keelson") {
				left = append(left, "nftables "+line)
			}
		}
	}
	return strings.Join(left, "; ")
}

// checkNothingLeft asserts the teardown left no process, namespace, container or pod
// sandbox behind.
func (c *cluster) checkNothingLeft() {
	for _, p := range c.procs() {
		if p.Running() {
			c.t.Errorf("%s (pid %d) still runs after teardown", p.Name, p.Pid())
		}
	}
	for _, ns := range []string{c.topo.N1, c.topo.N2} {
		if harness.NetNSExists(ns) {
			c.t.Errorf("network namespace %s still exists after teardown", ns)
		}
	}
	for _, n := range c.nodes {
		if left := n.Spec.Leftovers(context.Background()); left != "" {
			c.t.Errorf("left behind by agent %s: %s", n.Name, left)
		}
	}
}
