package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/testenv"

	"github.com/hashicorp/raft"
	"github.com/keelson/keelson/raftstore"
)

// testServer is one server of an in-memory cluster, served by httptest.
type testServer struct {
	*Server
	url   string
	ts    *httptest.Server
	trans *raft.InmemTransport
	stop  func() // stops Run and waits for it
}

type clusterOpts struct {
	n    int
	deps func(i int) Deps
}

// newTestCluster starts n servers whose stores share an in-memory raft transport and
// are bootstrapped together.
func newTestCluster(t *testing.T, o clusterOpts) []*testServer {
	t.Helper()
	if o.n == 0 {
		o.n = 1
	}
	var out []*testServer
	var peers []raftstore.Peer
	for i := range o.n {
		addr, tr := raft.NewInmemTransport("")
		out = append(out, &testServer{trans: tr})
		peers = append(peers, raftstore.Peer{ID: fmt.Sprintf("s%d", i), Addr: string(addr)})
	}
	for _, a := range out {
		for _, b := range out {
			if a != b {
				a.trans.Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
	for i, ts := range out {
		rc := raftstore.Config{ID: peers[i].ID, Bootstrap: true, Peers: peers, Transport: ts.trans, InMemory: true}
		rc.UseFastTimeouts()
		st, err := raftstore.Open(rc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ts.ts = httptest.NewUnstartedServer(nil)
		ts.url = "https://" + ts.ts.Listener.Addr().String()
		dataDir := t.TempDir()
		seedCredentials(t, dataDir)
		var deps Deps
		if o.deps != nil {
			deps = o.deps(i)
		}
		deps.Store = st
		srv, err := New(Config{
			ID: peers[i].ID, DataDir: dataDir, HTTPAdvertise: ts.url,
			ReconcileInterval: 50 * time.Millisecond,
		}, deps)
		if err != nil {
			t.Fatal(err)
		}
		ts.start(t, srv)
	}
	return out
}

// start serves srv on the test server's listener and runs it until the test ends.
func (ts *testServer) start(t *testing.T, srv *Server) {
	ts.Server = srv
	ts.ts.Config.Handler = srv.Handler()
	ts.ts.TLS = srv.TLSConfig()
	ts.ts.StartTLS()
	t.Cleanup(ts.ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx)
	}()
	ts.stop = func() { cancel(); <-done }
	t.Cleanup(ts.stop)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Poll(t, timeout, 5*time.Millisecond, what, cond)
}

// leaderOf waits until one server leads and every server knows the leader's HTTP
// address (so followers can forward).
func leaderOf(t *testing.T, servers []*testServer) *testServer {
	t.Helper()
	var l *testServer
	waitFor(t, 10*time.Second, "a leader with its address replicated", func() bool {
		l = nil
		for _, s := range servers {
			if s.store.IsLeader() {
				l = s
			}
		}
		if l == nil {
			return false
		}
		for _, s := range servers {
			if u, err := s.leaderURL(); err != nil || u != l.url {
				return false
			}
		}
		return true
	})
	return l
}

func follower(servers []*testServer, l *testServer) *testServer {
	for _, s := range servers {
		if s != l {
			return s
		}
	}
	return nil
}

type response struct {
	code  int
	body  string
	index string
}

// do sends one request authenticated by cred (see credTLS: a certificate role such
// as "node:n1", or a bearer token).
func do(t *testing.T, method, url, cred, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, token := credTLS(t, cred)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClientAs(t, cred).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(b), index: resp.Header.Get("X-Keelson-Index")}
}

func decodeAs[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if r.code != http.StatusOK {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}
