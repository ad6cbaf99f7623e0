package proxy

import (
	"context"
	"fmt"
	"testing"

	"github.com/keelson/keelson/api"
)

// serviceProxy is what the agent calls (its node.ServiceProxy) plus Close.
type serviceProxy interface {
	Sync(ctx context.Context, services []api.ServiceRecord, endpoints []api.Endpoints, nodeAddress string) error
	Close() error
}

// exerciseProxy runs the behaviour both data paths must show, in one topology.
func exerciseProxy(t *testing.T, tp *topo, p serviceProxy) {
	ctx := context.Background()
	pod0, pod1 := tp.podIPs[0], tp.podIPs[1]
	if err := p.Sync(ctx, testServices(), testEndpoints(pod0, pod1), nodeAddr); err != nil {
		t.Fatalf("sync: %v", err)
	}
	web := fmt.Sprintf("http://%s:80/", webIP)
	fresh := httpClient(tp.node, false)

	t.Run("ClusterIPFromNodeReachesBothBackends", func(t *testing.T) {
		got := seen(t, 40, func() (string, error) { return get(fresh, web) })
		if got["pod0"] == 0 || got["pod1"] == 0 || len(got) != 2 {
			t.Fatalf("answers %v, want both pod0 and pod1", got)
		}
	})
	t.Run("ClusterIPFromPod", func(t *testing.T) {
		// pod2 shares the bridge with both endpoints, including the hairpin-like
		// same-bridge path that needs masquerading.
		c := httpClient(tp.pods[2], false)
		got := seen(t, 40, func() (string, error) { return get(c, web) })
		if got["pod0"] == 0 || got["pod1"] == 0 {
			t.Fatalf("answers %v, want both", got)
		}
		// A backend reaching its own Service (hairpin).
		self := httpClient(tp.pods[0], false)
		got = seen(t, 20, func() (string, error) { return get(self, web) })
		if len(got) == 0 {
			t.Fatal("no answers")
		}
	})
	t.Run("NodePortFromOutside", func(t *testing.T) {
		c := httpClient(tp.client, false)
		got := seen(t, 20, func() (string, error) { return get(c, fmt.Sprintf("http://%s:%d/", nodeAddr, webNP)) })
		if got["pod0"]+got["pod1"] != 20 {
			t.Fatalf("answers %v", got)
		}
	})
	t.Run("UDP", func(t *testing.T) {
		got := map[string]int{}
		eventually(t, "udp answers from both", func() error {
			id, err := udpAsk(tp.node, dnsIP+":53")
			if err != nil {
				return err
			}
			got[id]++
			if len(got) < 2 {
				return fmt.Errorf("answers so far %v", got)
			}
			return nil
		})
	})
	t.Run("ClientIPAffinity", func(t *testing.T) {
		for _, ns := range []string{tp.node, tp.pods[2]} {
			c := httpClient(ns, false)
			got := seen(t, 30, func() (string, error) { return get(c, fmt.Sprintf("http://%s:81/", stickyIP)) })
			if len(got) != 1 {
				t.Fatalf("client in %s spread over %v, want one backend", ns, got)
			}
		}
	})
	t.Run("EndpointRemovalKeepsEstablished", func(t *testing.T) {
		keep := httpClient(tp.node, true)
		first, err := get(keep, web)
		if err != nil {
			t.Fatal(err)
		}
		stay, other := pod0, "pod1"
		if first == "pod1" {
			stay, other = pod1, "pod0"
		}
		if err := p.Sync(ctx, testServices(), testEndpoints(stay), nodeAddr); err != nil {
			t.Fatalf("sync: %v", err)
		}
		// The kept-alive connection still reaches the endpoint that is still ready.
		again, err := get(keep, web)
		if err != nil || again != first {
			t.Fatalf("established connection after update: %q %v, want %q", again, err, first)
		}
		got := seen(t, 30, func() (string, error) { return get(fresh, web) })
		if got[other] != 0 || got[first] != 30 {
			t.Fatalf("after removing %s: answers %v", other, got)
		}
	})
	t.Run("NoEndpointsFailsFast", func(t *testing.T) {
		if err := p.Sync(ctx, testServices(), nil, nodeAddr); err != nil {
			t.Fatalf("sync: %v", err)
		}
		if id, err := get(fresh, web); err == nil {
			t.Fatalf("request without endpoints answered %q", id)
		}
		if err := p.Sync(ctx, testServices(), testEndpoints(pod0, pod1), nodeAddr); err != nil {
			t.Fatalf("sync: %v", err)
		}
		if _, err := get(fresh, web); err != nil {
			t.Fatalf("after endpoints came back: %v", err)
		}
	})
}
