package proxy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
)

// manyServices makes n ClusterIP Services with two endpoints each; variant changes the
// endpoints of service number changed.
func manyServices(n, changed, variant int) ([]api.ServiceRecord, []api.Endpoints) {
	svcs := make([]api.ServiceRecord, n)
	eps := make([]api.Endpoints, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s%04d", i)
		svcs[i] = api.ServiceRecord{Namespace: "bulk", Name: name, Spec: corev1.ServiceSpec{
			ClusterIP: fmt.Sprintf("10.96.%d.%d", 1+i/250, 1+i%250),
			Ports:     []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
		}}
		third := 12
		if i == changed { // 10.244.x.100, .101, ... per variant
			third = 100 + variant%100
		}
		eps[i] = api.Endpoints{Namespace: "bulk", Name: name, Ports: []api.Endpoint{
			{Protocol: corev1.ProtocolTCP, IP: fmt.Sprintf("10.244.%d.10", 1+i%200), Port: 8080, Ready: true},
			{Protocol: corev1.ProtocolTCP, IP: fmt.Sprintf("10.244.%d.%d", 1+i%200, third), Port: 8080, Ready: true},
		}}
	}
	return svcs, eps
}

// bareNS creates an empty namespace for tests that only program tables.
func bareNS(t testing.TB) string {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "nft", "ip")
	ns := uniq(t) + "-bare"
	addNS(t, ns)
	return ns
}

// snapshot maps every chain of our table to its rules' handles: a chain rewritten by
// a sync gets new handles, an untouched one keeps them.
func snapshot(t testing.TB, ns string) (map[string]string, int) {
	t.Helper()
	fd, err := unix.Open(nsPath(ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd), nftables.AsLasting())
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseLasting()
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "keelson"}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ch := range chains {
		if ch.Table.Name != "keelson" {
			continue
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			t.Fatalf("rules of %s: %v", ch.Name, err)
		}
		var hs []string
		for _, r := range rules {
			hs = append(hs, fmt.Sprint(r.Handle))
		}
		out[ch.Name] = strings.Join(hs, ",")
	}
	set, err := c.GetSetByName(table, "service-ips")
	if err != nil {
		t.Fatal(err)
	}
	elems, err := c.GetSetElements(set)
	if err != nil {
		t.Fatal(err)
	}
	return out, len(elems)
}

func TestIncrementalUpdateTouchesOnlyChangedService(t *testing.T) {
	ns := bareNS(t)
	p, err := NewNFTables(Config{NetNSPath: nsPath(ns)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	const n, changed = 1000, 437
	svcs, eps := manyServices(n, changed, 0)
	if err := p.Sync(ctx, svcs, eps, ""); err != nil {
		t.Fatal(err)
	}
	before, elems := snapshot(t, ns)
	if elems != n {
		t.Fatalf("service map has %d elements, want %d", elems, n)
	}
	svcs, eps = manyServices(n, changed, 1)
	if err := p.Sync(ctx, svcs, eps, ""); err != nil {
		t.Fatal(err)
	}
	after, elems := snapshot(t, ns)
	if elems != n {
		t.Fatalf("service map has %d elements after update, want %d", elems, n)
	}
	id := fmt.Sprintf("bulk/s%04d/tcp/80", changed)
	var diff []string
	for name, h := range after {
		if before[name] != h {
			diff = append(diff, name)
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			diff = append(diff, name)
		}
	}
	// Exactly: the service chain (new vmap), the removed endpoint chain and the added one.
	want := map[string]bool{
		chainName("svc", id):                      true,
		chainName("ep", id+"/10.244.38.100:8080"): true,
		chainName("ep", id+"/10.244.38.101:8080"): true,
	}
	if len(diff) != len(want) {
		t.Fatalf("changed chains %v, want exactly %v", diff, want)
	}
	for _, name := range diff {
		if !want[name] {
			t.Fatalf("chain %s changed, want only %v", name, want)
		}
	}
}

// BenchmarkEndpointUpdate1000Services measures one Sync that changes one endpoint
// while 1,000 services (3,000 chains) are programmed: model build, diff and one
// netlink batch.
func BenchmarkEndpointUpdate1000Services(b *testing.B) {
	ns := bareNS(b)
	p, err := NewNFTables(Config{NetNSPath: nsPath(ns)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	svcs, eps := manyServices(1000, 500, 0)
	if err := p.Sync(ctx, svcs, eps, ""); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		svcs, eps := manyServices(1000, 500, i+1)
		if err := p.Sync(ctx, svcs, eps, ""); err != nil {
			b.Fatal(err)
		}
	}
}
