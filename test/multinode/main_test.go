// Package multinode is the cross-node test of issue 7: a real keelson server and two
// real agents, each agent in its own network namespace ("node host") with its own
// address, joined by a veth pair, sharing one private containerd. It shows that
// host-gw routes make every pod IP reachable from every node and every pod, and that
// the service proxy on each node serves ClusterIPs and NodePorts over backends on
// both nodes, following scaling.
//
// Topology (everything but containerd and the registry lives in private namespaces;
// nothing leaves them):
//
//	kls-n1-XXXX: veth0 10.123.0.1/24, server :7480/:7481, agent n1, pods 10.244.a.0/24
//	kls-n2-XXXX: veth0 10.123.0.2/24, agent n2, pods 10.244.b.0/24
//	root netns:  containerd (unix socket, reachable from any netns), registry 127.0.0.1
//
// Two choices the topology forces, both checked on this machine:
//   - Processes enter a node with `nsenter --net=/run/netns/NAME`, not `ip netns exec`:
//     the latter also unshares the mount namespace (to remount /sys), so the bind mounts
//     by which an agent keeps its pods' network namespaces would be invisible to
//     containerd and runc in the root mount namespace, and no container could join its
//     pod's network.
//   - The image is pre-pulled into each agent's containerd namespace from the root
//     network namespace (prePull): containerd's Go client pulls in the agent's own
//     process, which cannot reach the registry on the root namespace's 127.0.0.1. A
//     tagged image defaults to IfNotPresent, so the agents never pull.
//
// It needs root, containerd, runc, the CNI plugins, nftables, iproute2, nsenter,
// docker-registry and git: without them the test skips locally and fails under CI=true.
package multinode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"

	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/test/harness"
)

// suite is what TestMain prepared; set once before any test runs.
type suite struct {
	env     *harness.Env
	missing string // why the suite cannot run here ("" when it can)

	mu       sync.Mutex
	cleanups map[int]func() // running clusters, torn down on SIGINT/SIGTERM
	next     int
}

var shared = &suite{cleanups: map[int]func(){}}

func TestMain(m *testing.M) {
	// The test binary doubles as a tiny tool run inside the node namespaces (see
	// helper_test.go): that mode never starts the suite.
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if shared.missing = missing(); shared.missing != "" {
		return m.Run() // every test skips (or fails under CI=true) with the reason
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := harness.StartEnv(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "multinode: prepare the environment: %v\n", err)
		return 1
	}
	shared.env = env
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "multinode: interrupted: stopping the cluster, namespaces and daemons")
			shared.runCleanups()
			env.Close()
			os.Exit(2)
		case <-done:
		}
	}()
	code := m.Run()
	close(done)
	shared.runCleanups()
	env.Close()
	return code
}

// missing says what this machine lacks for the suite ("" when nothing).
func missing() string {
	if os.Geteuid() != 0 {
		return "the multi-node test needs root"
	}
	for _, b := range []string{"containerd", "ctr", "runc", "docker-registry", "git", "nft", "ip", "nsenter", "go"} {
		if _, err := exec.LookPath(b); err != nil {
			return b + " is not installed"
		}
	}
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat("/usr/lib/cni/" + p); err != nil {
			return "CNI plugin /usr/lib/cni/" + p + " is missing"
		}
	}
	return ""
}

// requireSuite skips (locally) or fails (CI=true) a test when the suite cannot run.
func requireSuite(t *testing.T) *harness.Env {
	t.Helper()
	if shared.missing != "" {
		testenv.Missing(t, shared.missing)
	}
	if shared.env == nil {
		t.Fatal("multinode environment not prepared")
	}
	return shared.env
}

// onInterrupt registers fn to run if the suite is interrupted; the returned func
// unregisters it once the test has run it itself.
func (s *suite) onInterrupt(fn func()) (unregister func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.cleanups[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.cleanups, id)
	}
}

func (s *suite) runCleanups() {
	s.mu.Lock()
	fns := s.cleanups
	s.cleanups = map[int]func(){}
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
