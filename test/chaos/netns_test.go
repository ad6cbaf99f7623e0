package chaos

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/keelson/keelson/test/harness"
	"os/exec"
	"strings"
	"testing"
)

// The test's own network: a bridge in the root namespace and one namespace per server
// and per agent, each with its own address on the bridge. The root namespace holds the
// test's clients (bridgeAddr), containerd and the registry.
const (
	bridgeName = "kchaos0"
	subnet     = "10.78.0."
	bridgeAddr = subnet + "254"
	// gateway does not exist: a node needs *a* default route before the nftables output
	// hook can DNAT its own ClusterIP traffic (see test/multinode).
	gateway = subnet + "253"
	// partitionTable is the nftables table (family inet, in a host's own namespace)
	// that holds the fault schedule's drop rules.
	partitionTable = "kchaos"
)

// host is one machine of the test: a network namespace with an address.
type host struct {
	Name  string // s1, n2, ...
	NetNS string
	Addr  string
	veth  string // its veth's end on the bridge
}

// network is the bridge and the hosts on it.
type network struct {
	id    string
	hosts []*host
}

// newNetwork creates the bridge (removing one a killed run left) and returns an empty
// network; addHost adds machines. Cleanup deletes everything it made.
func newNetwork(t *testing.T) *network {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	nw := &network{id: hex.EncodeToString(b)}
	if harness.LinkExists(bridgeName) {
		_ = harness.IP("link", "del", bridgeName)
	}
	t.Cleanup(func() {
		if err := nw.delete(); err != nil {
			t.Errorf("delete the test network: %v", err)
		}
	})
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", bridgeAddr + "/24", "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if err := harness.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	return nw
}

// addHost creates namespace kchaos-<id>-<name> with address subnet.<octet> on the bridge.
func (nw *network) addHost(t *testing.T, name string, octet int) *host {
	t.Helper()
	h := &host{Name: name, NetNS: "kchaos-" + nw.id + "-" + name, Addr: fmt.Sprintf("%s%d", subnet, octet), veth: "kc" + nw.id + name}
	nw.hosts = append(nw.hosts, h)
	for _, args := range [][]string{
		{"netns", "add", h.NetNS},
		{"link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.NetNS},
		{"link", "set", h.veth, "master", bridgeName, "up"},
		{"-n", h.NetNS, "addr", "add", h.Addr + "/24", "dev", "eth0"},
		{"-n", h.NetNS, "link", "set", "lo", "up"},
		{"-n", h.NetNS, "link", "set", "eth0", "up"},
		{"-n", h.NetNS, "route", "add", "default", "via", gateway},
	} {
		if err := harness.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// delete removes every namespace (with the veths, the agents' bridges, routes and
// tables inside) and the bridge; missing ones are fine.
func (nw *network) delete() error {
	var errs []error
	for _, h := range nw.hosts {
		if harness.NetNSExists(h.NetNS) {
			if err := harness.IP("netns", "del", h.NetNS); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if harness.LinkExists(bridgeName) {
		if err := harness.IP("link", "del", bridgeName); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cut is one drop rule of a partition: packets From sends To are lost.
type cut struct{ From, To *host }

// partition installs exactly these cuts (replacing any before) as nftables drop rules
// in each sender's namespace: the output hook drops what it sends to the peer, the
// input hook what it receives from it when the reverse direction is cut too. A
// symmetric partition is two cuts; a one-way partition is one.
func (nw *network) partition(cuts []cut) error {
	if err := nw.heal(); err != nil {
		return err
	}
	rules := map[*host][]string{}
	for _, c := range cuts {
		rules[c.From] = append(rules[c.From], fmt.Sprintf("add rule inet %s out ip daddr %s drop", partitionTable, c.To.Addr))
		rules[c.To] = append(rules[c.To], fmt.Sprintf("add rule inet %s in ip saddr %s drop", partitionTable, c.From.Addr))
	}
	for h, rs := range rules {
		script := fmt.Sprintf("add table inet %[1]s\nadd chain inet %[1]s out { type filter hook output priority -300; }\nadd chain inet %[1]s in { type filter hook input priority -300; }\n%[2]s\n",
			partitionTable, strings.Join(rs, "\n"))
		cmd := exec.Command("ip", "netns", "exec", h.NetNS, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("partition rules in %s: %w: %s", h.Name, err, out)
		}
	}
	return nil
}

// heal removes every partition rule.
func (nw *network) heal() error {
	var errs []error
	for _, h := range nw.hosts {
		if nftIn(h, "list", "table", "inet", partitionTable) == nil {
			if err := nftIn(h, "delete", "table", "inet", partitionTable); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// nftIn runs nft inside h's namespace.
func nftIn(h *host, args ...string) error {
	full := append([]string{"netns", "exec", h.NetNS, "nft"}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		return fmt.Errorf("nft %s in %s: %w: %s", strings.Join(args, " "), h.Name, err, out)
	}
	return nil
}
