// Package dns is the end-to-end test of cluster DNS: a real `keelson server` and
// `keelson agent` on a private containerd, an app whose pods find each other only by
// DNS name, and a resolver the test starts standing in for the host's (no internet
// here). It needs root, containerd, the CNI plugins, nftables and git: without them
// every test skips locally and fails under CI=true.
package dns

import (
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/keelson/keelson/node/dns"
	"github.com/keelson/keelson/test/harness"
)

var shared = &harness.Suite{Name: "dns", BeforeStart: func() {
	// Leftovers of a killed earlier run.
	for i, a := range agents {
		_ = agentSpec(i, "").RemoveAll(context.Background())
		_ = dns.RemoveLoopbackAddress(netip.MustParseAddr(a.dnsAddress))
	}
}}

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
