package proxy

import (
	"net/netip"
	"testing"
	"time"
)

func TestBalancerRoundRobinAndAffinity(t *testing.T) {
	a := backend{IP: netip.MustParseAddr("10.0.0.1"), Port: 80}
	b := backend{IP: netip.MustParseAddr("10.0.0.2"), Port: 80}
	c1 := netip.MustParseAddr("192.168.0.1")
	c2 := netip.MustParseAddr("192.168.0.2")

	rr := newBalancer(0)
	if _, ok := rr.pick(c1); ok {
		t.Fatal("picked a backend from an empty list")
	}
	rr.update([]backend{a, b}, 0)
	got := map[backend]int{}
	for i := 0; i < 10; i++ {
		be, _ := rr.pick(c1)
		got[be]++
	}
	if got[a] != 5 || got[b] != 5 {
		t.Fatalf("round robin gave %v", got)
	}

	now := time.Unix(1000, 0)
	aff := newBalancer(time.Minute)
	aff.now = func() time.Time { return now }
	aff.update([]backend{a, b}, time.Minute)
	first, _ := aff.pick(c1)
	for i := 0; i < 10; i++ {
		if be, _ := aff.pick(c1); be != first {
			t.Fatalf("affine client moved from %v to %v", first, be)
		}
	}
	other, _ := aff.pick(c2)
	if other == first {
		t.Fatalf("second client got the same backend %v under round robin", other)
	}
	// Past the timeout the client is balanced afresh.
	now = now.Add(2 * time.Minute)
	aff.pick(c2) // advances the round robin
	if be, _ := aff.pick(c1); be == first {
		t.Logf("client kept %v after expiry by round-robin chance", be)
	}
	// A removed backend releases its clients.
	aff.update([]backend{other}, time.Minute)
	if be, _ := aff.pick(c1); be != other {
		t.Fatalf("after removal got %v, want %v", be, other)
	}
}
