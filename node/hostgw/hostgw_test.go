package hostgw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/node/netns"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// twoNodes builds two private namespaces joined by a veth pair (10.123.0.1/.2), each
// with a "pod" address of its pod CIDR on lo (10.244.1.1 and 10.244.2.1).
func twoNodes(t *testing.T) (a, b string) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "ip")
	r := make([]byte, 3)
	if _, err := rand.Read(r); err != nil {
		t.Fatal(err)
	}
	u := "hg" + hex.EncodeToString(r)
	a, b = u+"-a", u+"-b"
	for _, ns := range []string{a, b} {
		run(t, "ip", "netns", "add", ns)
		ns := ns
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b)
	run(t, "ip", "-n", a, "addr", "add", "10.123.0.1/24", "dev", "eth0")
	run(t, "ip", "-n", b, "addr", "add", "10.123.0.2/24", "dev", "eth0")
	run(t, "ip", "-n", a, "addr", "add", "10.244.1.1/32", "dev", "lo")
	run(t, "ip", "-n", b, "addr", "add", "10.244.2.1/32", "dev", "lo")
	run(t, "ip", "-n", a, "link", "set", "eth0", "up")
	run(t, "ip", "-n", b, "link", "set", "eth0", "up")
	return a, b
}

func path(ns string) string { return "/var/run/netns/" + ns }

var nodes = []api.Node{
	{Name: "a", Address: "10.123.0.1", PodCIDR: "10.244.1.0/24"},
	{Name: "b", Address: "10.123.0.2", PodCIDR: "10.244.2.0/24"},
	{Name: "pending", Address: "10.123.0.3"}, // no CIDR yet: ignored
}

// podToPod connects from a's pod address to a listener on b's pod address.
func podToPod(t *testing.T, a, b string) error {
	t.Helper()
	var l net.Listener
	if err := netns.Do(path(b), func() error {
		var err error
		l, err = net.Listen("tcp4", "10.244.2.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	return netns.Do(path(a), func() error {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.244.1.1")}}
		c, err := d.Dial("tcp4", l.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	})
}

func TestHostGWRoutesPodCIDRs(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	// A route somebody else owns, which must survive every Sync and Close.
	run(t, "ip", "-n", a, "route", "add", "10.99.0.0/24", "via", "10.123.0.2")

	if err := podToPod(t, a, b); err == nil {
		t.Fatal("pod CIDRs reachable before any route was installed")
	}
	sa := New(nil, WithNetNS(path(a)))
	sb := New(nil, WithNetNS(path(b)))
	t.Cleanup(func() { _ = sa.Close(); _ = sb.Close() })
	for i := 0; i < 2; i++ { // the second round must be a no-op
		if err := sa.Sync(ctx, "a", nodes); err != nil {
			t.Fatalf("sync a: %v", err)
		}
		if err := sb.Sync(ctx, "b", nodes); err != nil {
			t.Fatalf("sync b: %v", err)
		}
	}
	if got := run(t, "ip", "-n", a, "route", "show", "proto", "75"); !strings.Contains(got, "10.244.2.0/24 via 10.123.0.2") || strings.Count(got, "\n") != 1 {
		t.Fatalf("routes of ours in a:\n%s", got)
	}
	if err := podToPod(t, a, b); err != nil {
		t.Fatalf("pod to pod across nodes: %v", err)
	}

	// Node b leaves: its route goes, the foreign route stays.
	if err := sa.Sync(ctx, "a", nodes[:1]); err != nil {
		t.Fatalf("sync a: %v", err)
	}
	if got := run(t, "ip", "-n", a, "route", "show", "proto", "75"); got != "" {
		t.Fatalf("routes left after node removal:\n%s", got)
	}
	// b's address changes: the route is replaced, not duplicated.
	moved := []api.Node{nodes[0], {Name: "b", Address: "10.123.0.7", PodCIDR: "10.244.2.0/24"}}
	if err := sa.Sync(ctx, "a", moved); err != nil {
		t.Fatalf("sync a: %v", err)
	}
	if got := run(t, "ip", "-n", a, "route", "show", "proto", "75"); !strings.Contains(got, "via 10.123.0.7") || strings.Count(got, "\n") != 1 {
		t.Fatalf("after address change:\n%s", got)
	}

	if err := sa.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := run(t, "ip", "-n", a, "route", "show", "proto", "75"); got != "" {
		t.Fatalf("routes left after Close:\n%s", got)
	}
	if got := run(t, "ip", "-n", a, "route", "show", "10.99.0.0/24"); !strings.Contains(got, "10.99.0.0/24") {
		t.Fatal("a route hostgw did not create was removed")
	}
}

func TestHostGWReportsUnroutableNode(t *testing.T) {
	a, _ := twoNodes(t)
	s := New(nil, WithNetNS(path(a)))
	t.Cleanup(func() { _ = s.Close() })
	bad := []api.Node{{Name: "far", Address: "10.200.0.1", PodCIDR: "10.244.9.0/24"}, nodes[1]}
	err := s.Sync(context.Background(), "a", bad)
	if err == nil || !strings.Contains(err.Error(), "10.244.9.0/24") {
		t.Fatalf("want an error naming the unroutable CIDR, got %v", err)
	}
	// The routable node was still installed.
	if got := run(t, "ip", "-n", a, "route", "show", "proto", "75"); !strings.Contains(got, "10.244.2.0/24") {
		t.Fatalf("routes:\n%s", got)
	}
}
