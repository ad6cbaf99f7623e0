package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/server/client"
	corev1 "k8s.io/api/core/v1"
)

const regBody = `{"name":"n1","address":"10.0.0.1","capacity":{"milliCPU":1000,"memoryBytes":1000}}`

func TestAuth(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	for _, tc := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", api.PathHealth, "", "", 200},
		{"GET", api.PathNodes, "", "", 401},
		{"GET", api.PathNodes, "wrong", "", 403},
		{"GET", api.PathNodes, testReadToken, "", 200},
		{"GET", api.PathNodes, testNodeToken, "", 403},
		{"GET", api.PathNodes, testServerToken, "", 403},
		{"GET", api.PathNodes, "reader:alice", "", 200},
		{"GET", api.PathNodes, "server:s9", "", 200},
		{"GET", api.PathNodes, "node:n1", "", 403},
		{"GET", api.PathStatus, testReadToken, "", 200},
		{"POST", api.PathNodeRegister, "", regBody, 401},
		{"POST", api.PathNodeRegister, testReadToken, regBody, 403},
		{"POST", api.PathNodeRegister, testNodeToken, regBody, 403},
		{"POST", api.PathNodeRegister, "reader:alice", regBody, 403},
		{"POST", api.PathNodeRegister, "node:n2", regBody, 403}, // NodeRestriction: n2 is not n1
		{"POST", api.PathNodeRegister, "node:n1", regBody, 200},
		{"GET", api.PathNodeView + "n1", testReadToken, "", 403},
		{"GET", api.PathNodeView + "n1", "node:n2", "", 403},
		{"POST", api.PathNodeRegister, "node:x", `{"name":"x","bogus":1}`, 400},
		{"POST", api.PathNodeHeartbeat, "node:ghost", `{"name":"ghost"}`, 404},
		{"POST", api.PathServerJoin, "node:n1", `{"id":"n1","raftAddr":"127.0.0.1:1"}`, 403},
		{"POST", api.PathServerJoin, testNodeToken, `{"id":"n1","raftAddr":"127.0.0.1:1"}`, 403},
		{"POST", api.PathServerJoin, "server:s9", `{"id":"s0","raftAddr":"127.0.0.1:1"}`, 403}, // not as another server
		{"POST", api.PathServerLeave, "node:n1", `{"id":"s0"}`, 403},
		{"POST", api.PathServerCredentials, testNodeToken, "{}", 403},
		{"POST", api.PathServerCredentials, "server:s9", "{}", 403}, // a certificate is not the join secret
		{"POST", api.PathServerCredentials, testServerToken, "{}", 200},
		{"POST", api.PathNodeJoin, testServerToken, "{}", 403},
		{"GET", api.PathCA, "", "", 200},
		{"GET", "/v1/nope", "", "", 404},
		{"GET", api.PathNodes + "?index=abc", testReadToken, "", 400},
	} {
		r := do(t, tc.method, l.url+tc.path, tc.token, tc.body)
		if r.code != tc.want {
			t.Errorf("%s %s token %q: %d %s, want %d", tc.method, tc.path, tc.token, r.code, r.body, tc.want)
		}
		if r.code >= 400 && !strings.Contains(r.body, `"error"`) {
			t.Errorf("%s %s: error body %q is not an ErrorResponse", tc.method, tc.path, r.body)
		}
	}
}

func TestReadAPINeedsACredential(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	if r := do(t, "GET", l.url+api.PathPods, "", ""); r.code != 401 {
		t.Fatalf("read without any credential: %d", r.code)
	}
}

func TestBlockingQuery(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	first := do(t, "GET", l.url+api.PathNodes, testReadToken, "")
	if first.index == "" {
		t.Fatal("no index header")
	}
	// Times out: nothing changes.
	r := do(t, "GET", l.url+api.PathNodes+"?index="+first.index+"&wait=50ms", testReadToken, "")
	if r.code != 200 || r.index != first.index {
		t.Fatalf("timed-out query: %d index %s, want %s", r.code, r.index, first.index)
	}
	// Returns on change.
	got := make(chan response, 1)
	go func() { got <- do(t, "GET", l.url+api.PathNodes+"?index="+first.index+"&wait=30s", testReadToken, "") }()
	if r := do(t, "POST", l.url+api.PathNodeRegister, "node:n1", regBody); r.code != 200 {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	r = <-got
	nodes := decodeAs[[]api.Node](t, r)
	a, _ := strconv.ParseUint(first.index, 10, 64)
	b, _ := strconv.ParseUint(r.index, 10, 64)
	if len(nodes) != 1 || b <= a {
		t.Fatalf("blocking query answered %d nodes at index %d (asked > %d)", len(nodes), b, a)
	}
}

func TestFollowerForwarding(t *testing.T) {
	s := newTestCluster(t, clusterOpts{n: 3})
	l := leaderOf(t, s)
	f := follower(s, l)
	c := clientAs(t, []string{f.url}, "node:n1")
	ctx := context.Background()
	n, err := c.Register(ctx, api.NodeRegistration{Name: "n1", Address: "10.0.0.1"})
	if err != nil || n.Status != api.NodeReady {
		t.Fatalf("register via follower: %+v %v", n, err)
	}
	if _, ok := l.store.Snapshot().Node("n1"); !ok {
		t.Fatal("leader does not have the node registered through a follower")
	}
	if err := c.Heartbeat(ctx, "n1"); err != nil {
		t.Fatalf("heartbeat via follower: %v", err)
	}
	// A consistent read through the follower sees the write at once.
	nodes, _, err := clientAs(t, []string{f.url}, testReadToken).Nodes(ctx, client.QueryOptions{Consistent: true})
	if err != nil || len(nodes) != 1 {
		t.Fatalf("consistent read via follower: %v %v", nodes, err)
	}
	// Status reports are restricted: n1 reports for n1's pods only, even forwarded.
	if _, err := l.store.Apply(ctx, raftstore.ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{{UID: "u1", Namespace: "default", Name: "p", Node: "n1", Desire: api.DesireRun}}})); err != nil {
		t.Fatal(err)
	}
	err = c.ReportStatus(ctx, []api.PodStatusReport{{UID: "u1", Node: "n2", Status: api.PodStatus{Phase: corev1.PodFailed}}})
	if e, ok := err.(*client.Error); !ok || e.StatusCode != http.StatusForbidden {
		t.Fatalf("n1 reporting as n2 via follower: %v, want 403", err)
	}
	err = c.ReportStatus(ctx, []api.PodStatusReport{{UID: "u1", Node: "n1", Status: api.PodStatus{Phase: corev1.PodRunning}}})
	if err != nil {
		t.Fatalf("status via follower: %v", err)
	}
	if p, _ := l.store.Snapshot().Pod("u1"); p.Status.Phase != corev1.PodRunning {
		t.Fatalf("pod status = %+v", p.Status)
	}
	// A client listing a dead server first fails over.
	c2 := clientAs(t, []string{"https://127.0.0.1:1", f.url}, testReadToken)
	if _, err := c2.Status(ctx); err != nil {
		t.Fatalf("failover: %v", err)
	}
}

func TestNodeView(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	c := clientAs(t, []string{l.url}, "node:n1")
	ctx := context.Background()
	for _, n := range []string{"n1", "n2"} {
		if _, err := clientAs(t, []string{l.url}, "node:"+n).Register(ctx, api.NodeRegistration{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := clientAs(t, []string{l.url}, "node:ghost").WatchNode(ctx, "ghost", 0, 0); !client.IsNotFound(err) {
		t.Fatalf("view of unknown node: %v", err)
	}
	v, err := c.WatchNode(ctx, "n1", 0, 0)
	if err != nil || len(v.Nodes) != 2 || len(v.Pods) != 0 {
		t.Fatalf("view = %+v, %v", v, err)
	}
	upsert := func(uid, node string) {
		t.Helper()
		if _, err := l.store.Apply(ctx, raftstore.ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{{UID: uid, Name: uid, Namespace: "default", Node: node, Desire: api.DesireRun}}})); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan api.NodeView, 1)
	go func() {
		v, err := c.WatchNode(ctx, "n1", v.Index, 30*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	// A change to n2's pods must not answer n1's watch; the change to n1 must.
	upsert("other", "n2")
	upsert("mine", "n1")
	v2 := <-got
	if len(v2.Pods) != 1 || v2.Pods[0].UID != "mine" || v2.Index <= v.Index {
		t.Fatalf("n1's watch answered with pods %+v at index %d (asked > %d)", v2.Pods, v2.Index, v.Index)
	}
}

func TestLogsProxy(t *testing.T) {
	agent := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "a secret was sent to the agent", http.StatusBadRequest)
			return
		}
		if r.URL.Path != api.PathAgentLogs+"u1/web" || r.URL.Query().Get("tail") != "5" {
			http.Error(w, "wrong request "+r.URL.String(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("hello from web\n"))
	}))
	// The agent's endpoint is mutual TLS: its node certificate, servers only.
	agent.TLS = pki.MutualTLS(testCA().Pool(), certFor(t, pki.RoleNode, "n1"), pki.RoleServer)
	agent.StartTLS()
	defer agent.Close()
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	ctx := context.Background()
	c := clientAs(t, []string{l.url}, "node:n1")
	if _, err := c.Register(ctx, api.NodeRegistration{Name: "n1", AgentURL: agent.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.store.Apply(ctx, raftstore.ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{{
		UID: "u1", Namespace: "default", Name: "web-1", Node: "n1", Desire: api.DesireRun,
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}},
	}}})); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := clientAs(t, []string{l.url}, testReadToken).Logs(ctx, "default", "web-1", "", false, 5, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello from web\n" {
		t.Fatalf("logs = %q", out.String())
	}
	if err := clientAs(t, []string{l.url}, testReadToken).Logs(ctx, "default", "nope", "", false, -1, &out); !client.IsNotFound(err) {
		t.Fatalf("logs of unknown pod: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	do(t, "POST", l.url+api.PathNodeRegister, "node:n1", regBody)
	if r := do(t, "GET", l.url+api.PathMetrics, "", ""); r.code != 401 {
		t.Errorf("metrics without a credential: %d, want 401", r.code)
	}
	r := do(t, "GET", l.url+api.PathMetrics, testReadToken, "")
	for _, want := range []string{"keelson_http_requests_total", `keelson_raft_commands_total{result="ok",type="RegisterNode"} 1`, "keelson_raft_applied_index", "keelson_raft_apply_seconds_bucket"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
