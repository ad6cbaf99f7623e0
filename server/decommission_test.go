package server

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
)

// A node listed in removed-nodes is deleted once Down, with its pods; a listed node
// that is up stays; afterwards the name is free for a new key.
func TestDecommissionRemovesDownNodes(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	ctx := context.Background()
	for _, n := range []string{"gone", "up"} {
		if r := do(t, "POST", l.url+api.PathNodeRegister, "node:"+n, `{"name":"`+n+`","address":"10.0.0.1"}`); r.code != 200 {
			t.Fatalf("register %s: %d %s", n, r.code, r.body)
		}
	}
	if _, err := l.store.Apply(ctx, raftstore.ApplyChangesCmd(api.Changes{
		Nodes:      []api.NodePatch{{Name: "gone", Status: api.NodeDown, At: time.Now()}},
		UpsertPods: []api.PodRecord{{UID: "u-gone", Namespace: "default", Name: "p", Node: "gone", Desire: api.DesireRun}},
	})); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pki.ServerFiles{DataDir: l.cfg.DataDir}.RemovedNodes(), []byte("# decommissioned\ngone\nup\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "node gone removed", func() bool {
		_, ok := l.store.Snapshot().Node("gone")
		return !ok
	})
	if _, ok := l.store.Snapshot().Pod("u-gone"); ok {
		t.Error("the removed node's pod record is still there")
	}
	if _, ok := l.store.Snapshot().Node("up"); !ok {
		t.Error("a listed node that is up was removed")
	}
	// The name is free again: a new certificate (new key) may register it.
	testCerts.Delete("node:gone")
	if r := do(t, "POST", l.url+api.PathNodeRegister, "node:gone", `{"name":"gone","address":"10.0.0.2"}`); r.code != 200 {
		t.Fatalf("re-register a removed name with a new key: %d %s", r.code, r.body)
	}
}

// A name registered with one key refuses another key: registration, heartbeat,
// view and the node-join exchange.
func TestNodeNameBoundToFirstKey(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	if r := do(t, "POST", l.url+api.PathNodeRegister, "node:n1", regBody); r.code != 200 {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	first := certFor(t, "node", "n1")
	testCerts.Delete("node:n1") // the next certificate for n1 has another key
	for _, tc := range []struct{ method, path, body string }{
		{"POST", api.PathNodeRegister, regBody},
		{"POST", api.PathNodeHeartbeat, `{"name":"n1"}`},
		{"GET", api.PathNodeView + "n1", ""},
	} {
		if r := do(t, tc.method, l.url+tc.path, "node:n1", tc.body); r.code != 403 {
			t.Errorf("%s %s with another key: %d %s, want 403", tc.method, tc.path, r.code, r.body)
		}
	}
	testCerts.Store("node:n1", first)
	if r := do(t, "POST", l.url+api.PathNodeHeartbeat, "node:n1", `{"name":"n1"}`); r.code != 200 {
		t.Errorf("heartbeat with the first key: %d %s", r.code, r.body)
	}
}
