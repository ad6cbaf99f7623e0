package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
)

// Reported pod IPs must lie in the reporting node's own pod CIDR.
func TestStatusReportPodIPInOwnCIDR(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	ctx := context.Background()
	if r := do(t, "POST", l.url+api.PathNodeRegister, "node:n1", regBody); r.code != 200 {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	if _, err := l.store.Apply(ctx, raftstore.ApplyChangesCmd(api.Changes{
		Nodes:      []api.NodePatch{{Name: "n1", PodCIDR: "10.244.7.0/24"}},
		UpsertPods: []api.PodRecord{{UID: "u1", Namespace: "default", Name: "p", Node: "n1", Desire: api.DesireRun}},
	})); err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]int{"10.244.8.5": 403, "10.96.0.1": 403, "not-an-ip": 403, "10.244.7.5": 200} {
		body := `[{"uid":"u1","node":"n1","status":{"phase":"Running","podIP":"` + ip + `"}}]`
		if r := do(t, "POST", l.url+api.PathNodeStatus, "node:n1", body); r.code != want {
			t.Errorf("pod IP %s: %d %s, want %d", ip, r.code, r.body, want)
		}
	}
	if p, _ := l.store.Snapshot().Pod("u1"); p.Status.PodIP != "10.244.7.5" {
		t.Errorf("stored pod IP %q", p.Status.PodIP)
	}
}

// The forwarded-identity header is believed only from a server certificate: a node
// cannot claim to be another node (or a server) by sending it.
func TestForwardedIdentityOnlyFromServers(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	if r := do(t, "POST", l.url+api.PathNodeRegister, "node:n1", regBody); r.code != 200 {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	n1, _ := l.store.Snapshot().Node("n1")
	req, _ := http.NewRequest(http.MethodPost, l.url+api.PathNodeHeartbeat, strings.NewReader(`{"name":"n1"}`))
	req.Header.Set(forwardedHeader, "s0")
	req.Header.Set(identityHeader, formatIdentity(pki.Identity{Role: pki.RoleNode, Name: "n1", KeyHash: n1.KeyHash}))
	resp, err := httpClientAs(t, "node:n2").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("node n2 claiming n1 through the forwarding header: %d, want 403", resp.StatusCode)
	}
}
