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
	"os"
	"testing"

	"github.com/keelson/keelson/test/harness"
)

// shared is the package's suite, prepared once by TestMain.
var shared = &harness.Suite{Name: "multinode", Binaries: []string{"nsenter"}}

func TestMain(m *testing.M) {
	// The test binary doubles as a tiny tool run inside the node namespaces (see
	// helper_test.go): that mode never starts the suite.
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(shared.Run(m))
}

// requireSuite skips (locally) or fails (CI=true) a test when the suite cannot run.
func requireSuite(t *testing.T) *harness.Env { t.Helper(); return shared.Require(t) }
