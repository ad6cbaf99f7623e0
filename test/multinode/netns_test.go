package multinode

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/keelson/keelson/test/harness"
	"strings"
	"testing"
)

// The two node hosts' addresses on their shared segment. The gateway does not exist:
// see newTopology.
const (
	addrN1  = "10.123.0.1"
	addrN2  = "10.123.0.2"
	prefix  = "/24"
	gateway = "10.123.0.254"
)

// topology is two network namespaces joined by a veth pair: two machines on one L2
// segment, as host-gw requires.
type topology struct {
	N1, N2 string // namespace names (kls-n1-XXXX, kls-n2-XXXX)
}

// newTopology creates the namespaces and the link. Everything lives inside the two
// namespaces, so deleting them (cleanup, even after a failure) removes the veth pair,
// the agents' bridges, routes and nftables tables with them.
//
// Each namespace gets a default route via a gateway that does not answer, as a real
// node has a default gateway: traffic a node itself sends to a ClusterIP needs *some*
// route before the nftables output hook can DNAT it to a pod (kube-proxy relies on the
// same). Nothing is ever delivered to that gateway in this test.
func newTopology(t *testing.T) *topology {
	t.Helper()
	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	s := hex.EncodeToString(suffix)
	tp := &topology{N1: "kls-n1-" + s, N2: "kls-n2-" + s}
	t.Cleanup(func() {
		if err := tp.delete(); err != nil {
			t.Errorf("delete namespaces: %v", err)
		}
	})
	steps := [][]string{
		{"netns", "add", tp.N1},
		{"netns", "add", tp.N2},
		// Created inside n1 with its peer placed straight into n2: no link ever
		// exists in the root namespace.
		{"-n", tp.N1, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", tp.N2},
		{"-n", tp.N1, "addr", "add", addrN1 + prefix, "dev", "veth0"},
		{"-n", tp.N2, "addr", "add", addrN2 + prefix, "dev", "veth0"},
	}
	for _, ns := range []string{tp.N1, tp.N2} {
		steps = append(steps,
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "link", "set", "veth0", "up"},
			[]string{"-n", ns, "route", "add", "default", "via", gateway},
		)
	}
	for _, args := range steps {
		if err := harness.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	return tp
}

// delete removes both namespaces; a missing one is fine (cleanup after a partial setup).
func (tp *topology) delete() error {
	var errs []string
	for _, ns := range []string{tp.N1, tp.N2} {
		if !harness.NetNSExists(ns) {
			continue
		}
		if err := harness.IP("netns", "del", ns); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
