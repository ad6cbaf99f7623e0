package proxy

import (
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

func TestNFTablesProxy(t *testing.T) {
	tp := newTopo(t, 2)
	p, err := NewNFTables(Config{ClusterCIDR: "10.244.0.0/16", BridgeName: bridgeName, NetNSPath: nsPath(tp.node)})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = p.Close()
		}
	})
	exerciseProxy(t, tp, p)

	if err := p.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	closed = true
	if tables := listTables(t, tp.node); len(tables) != 0 {
		t.Fatalf("tables left after Close: %v", tables)
	}
}

// listTables lists the ip-family nftables tables of a namespace.
func listTables(t testing.TB, ns string) []string {
	t.Helper()
	fd, err := unix.Open(nsPath(ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range ts {
		names = append(names, tb.Name)
	}
	return names
}
