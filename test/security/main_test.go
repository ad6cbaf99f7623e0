// Package security is the attack suite of issue #13: real keelson server and agent
// processes with the secure defaults, attacked the way a host on the same network
// (or a compromised node) would — raft injection, raft membership from an agent, node
// impersonation, foreign pod IPs, the agent's log endpoint, plaintext probes — with
// the state read before and after each attack to show nothing changed.
//
// It needs root, containerd, runc, the CNI plugins and git (one real agent): without
// them every test skips locally and fails under CI=true.
package security

import (
	"os"
	"testing"

	"github.com/keelson/keelson/test/harness"
)

// Names no other suite uses: bridge kls-sec0, containerd namespace kls-sec, pod CIDR
// 10.246.0.0/16, service CIDR 10.98.0.0/16.
const (
	agentName   = "sec-agent"
	bridge      = "kls-sec0"
	ctrNS       = "kls-sec"
	clusterCIDR = "10.246.0.0/16"
	serviceCIDR = "10.98.0.0/16"
)

var shared = &harness.Suite{Name: "security"}

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
