package proxy

import (
	"os/exec"
	"strings"
	"testing"
)

func TestUserspaceProxy(t *testing.T) {
	tp := newTopo(t, 2)
	p, err := NewUserspace(Config{NetNSPath: nsPath(tp.node)})
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
	out, err := exec.Command("ip", "-n", tp.node, "addr", "show", "dev", "lo").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{webIP, dnsIP, stickyIP} {
		if strings.Contains(string(out), ip) {
			t.Fatalf("%s still on lo after Close:\n%s", ip, out)
		}
	}
}
