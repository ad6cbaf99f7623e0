package proxy

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestNFTablesResyncRepairsDrift changes the proxy's table behind its back the ways an
// operator or another tool could, and checks that Resync names the drift, restores the
// rules and that a ClusterIP answers again; with nothing changed Resync reports nothing.
func TestNFTablesResyncRepairsDrift(t *testing.T) {
	tp := newTopo(t, 2)
	table := "kdrift" + uniq(t)[2:]
	p, err := NewNFTables(Config{ClusterCIDR: "10.244.0.0/16", BridgeName: bridgeName, NetNSPath: nsPath(tp.node), Table: table})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	if drift, err := p.Resync(ctx); drift != "" || err != nil {
		t.Fatalf("Resync before any Sync = %q, %v; want nothing to check", drift, err)
	}
	if err := p.Sync(ctx, testServices(), testEndpoints(tp.podIPs[0], tp.podIPs[1]), nodeAddr); err != nil {
		t.Fatalf("sync: %v", err)
	}
	web := fmt.Sprintf("http://%s:80/", webIP)
	fresh := httpClient(tp.node, false)
	answers := func() error {
		_, err := get(fresh, web)
		return err
	}
	eventually(t, "ClusterIP answers", answers)
	if drift, err := p.Resync(ctx); drift != "" || err != nil {
		t.Fatalf("Resync with nothing changed = %q, %v", drift, err)
	}

	nft := func(args ...string) { run(t, append([]string{"ip", "netns", "exec", tp.node, "nft"}, args...)...) }
	for _, tc := range []struct {
		name      string
		change    func()
		wantDrift string
	}{
		{"TableDeleted", func() { nft("delete", "table", "ip", table) }, "table " + table + " is missing"},
		{"ServicesChainFlushed", func() { nft("flush", "chain", "ip", table, "services") }, "chain services has 0 rules"},
		{"DispatchElementDeleted", func() {
			nft("delete", "element", "ip", table, "service-ips", "{ "+webIP+" . tcp . 80 }")
		}, "set service-ips has"},
		{"ForeignChainAdded", func() { nft("add", "chain", "ip", table, "intruder") }, "unexpected chain intruder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			drift, err := p.Resync(ctx)
			if err != nil {
				t.Fatalf("resync: %v", err)
			}
			if !strings.Contains(drift, tc.wantDrift) {
				t.Fatalf("drift = %q, want it to say %q", drift, tc.wantDrift)
			}
			eventually(t, "ClusterIP answers after the repair", answers)
			if drift, err := p.Resync(ctx); drift != "" || err != nil {
				t.Fatalf("Resync after the repair = %q, %v; want no drift", drift, err)
			}
		})
	}
}
