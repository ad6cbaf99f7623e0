// Package chaos is the fault soak of issue 19: real keelson servers (3, and 5) and
// agents, each in its own network namespace on a bridge of the test's own, a stream
// of real `git push`es, and a fault schedule drawn from a seed (SIGKILL of the leader,
// of a follower and of agents; symmetric and one-way partitions made of nftables drop
// rules; a partitioned minority leader; a server restarted with a lost data dir; the
// node-level drift the agents repair). A recorder logs every client-visible operation
// with its real-time bounds and test/chaos/model checks the histories with porcupine;
// after every cycle the replicas' state hashes, the containers really running on the
// nodes and the convergence to the last pushed commit are checked.
//
// Topology (nothing but containerd, the registry and the test's clients is in the root
// namespace):
//
//	kchaos0 (root ns)     10.78.0.254   the test's clients (reads, state hashes)
//	kchaos-ID-s1..s5      10.78.0.1-5   keelson server :7480 (API) :7481 (raft)
//	kchaos-ID-n1..n3      10.78.0.11-13 keelson agent, pods in 10.249.x.0/24 (host-gw)
//
// KEELSON_CHAOS_SEED fixes the seed (a failure prints the one it ran with);
// KEELSON_CHAOS_CYCLES sets the number of cycles (default: the short CI run; `make
// soak` runs 100). It needs what test/multinode needs; without it the test skips
// locally and fails under CI=true.
package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/keelson/keelson/test/harness"
)

var shared = &harness.Suite{Name: "chaos", Binaries: []string{"nsenter"}}

// helperEnv switches the test binary into helper mode: it runs inside a node's
// namespace to remove the pods an agent left (CNI DEL must run where the veths are).
const helperEnv = "KEELSON_CHAOS_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper(os.Args[1:]))
	}
	os.Exit(shared.Run(m))
}

// runHelper: removepods SOCKET NAMESPACE STATE.
func runHelper(args []string) int {
	if len(args) != 4 || args[0] != "removepods" {
		fmt.Fprintf(os.Stderr, "helper: bad command %q\n", args)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := harness.RuntimeSpec{Containerd: args[1], Namespace: args[2], StateDir: args[3]}
	if err := spec.RemoveAll(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "helper removepods: %v\n", err)
		return 1
	}
	return 0
}

// removePods removes what a's stopped agent left in containerd and CNI, from inside
// its namespace (nsenter --net keeps the root mount namespace, where the pods' netns
// bind mounts are).
func removePods(ctx context.Context, a *agent) error {
	if !harness.NetNSExists(a.NetNS) {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+harness.NetNSPath(a.NetNS), self, "removepods", a.spec.Containerd, a.spec.Namespace, a.spec.StateDir)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func requireSuite(t *testing.T) *harness.Env { t.Helper(); return shared.Require(t) }
