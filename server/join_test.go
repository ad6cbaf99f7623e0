package server

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
)

// startConfigured starts servers that open their own stores from Config (in-memory
// raft, fully connected), exercising --bootstrap, --join and --bootstrap-expect.
func startConfigured(t *testing.T, n int, configure func(i int, urls []string, c *Config)) []*testServer {
	t.Helper()
	var out []*testServer
	var urls []string
	for range n {
		_, tr := raft.NewInmemTransport("")
		ts := &testServer{trans: tr, ts: httptest.NewUnstartedServer(nil)}
		ts.url = "https://" + ts.ts.Listener.Addr().String()
		out = append(out, ts)
		urls = append(urls, ts.url)
	}
	for _, a := range out {
		for _, b := range out {
			if a != b {
				a.trans.Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
	for i, ts := range out {
		dataDir := t.TempDir()
		seedCredentials(t, dataDir)
		cfg := Config{
			ID: fmt.Sprintf("s%d", i), DataDir: dataDir, HTTPAdvertise: ts.url,
			RaftTransport: ts.trans, RaftInMemory: true, RaftFastTimeouts: true,
		}
		configure(i, urls, &cfg)
		srv, err := New(cfg, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		ts.start(t, srv)
	}
	return out
}

func requireMembers(t *testing.T, s *testServer, n int) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprintf("%d voters with HTTP addresses", n), func() bool {
		servers, err := s.store.Servers()
		if err != nil || len(servers) != n {
			return false
		}
		for _, si := range servers {
			if !si.Voter || si.HTTPAddr == "" {
				return false
			}
		}
		return true
	})
}

func TestJoin(t *testing.T) {
	s := startConfigured(t, 3, func(i int, urls []string, c *Config) {
		if i == 0 {
			c.Bootstrap = true
		} else {
			c.Join = []string{urls[i-1]} // s2 joins through s1, a follower
		}
	})
	l := leaderOf(t, s)
	requireMembers(t, l, 3)
	// A write through the last joiner is forwarded and replicated everywhere.
	if r := do(t, "POST", s[2].url+api.PathNodeRegister, "node:n1", regBody); r.code != 200 {
		t.Fatalf("register via joined server: %d %s", r.code, r.body)
	}
	for _, x := range s {
		waitFor(t, 10*time.Second, "the node on "+x.cfg.ID, func() bool {
			_, ok := x.store.Snapshot().Node("n1")
			return ok
		})
	}
	// Leave: the cluster shrinks to two.
	if r := do(t, "POST", s[1].url+api.PathServerLeave, "server:s1", `{"id":"`+follower(s, l).cfg.ID+`"}`); r.code != 200 {
		t.Fatalf("leave: %d %s", r.code, r.body)
	}
	waitFor(t, 10*time.Second, "two voters", func() bool {
		servers, err := l.store.Servers()
		return err == nil && len(servers) == 2
	})
}

func TestBootstrapExpect(t *testing.T) {
	s := startConfigured(t, 3, func(i int, urls []string, c *Config) {
		c.BootstrapExpect = 3
		for j, u := range urls {
			if j != i {
				c.Join = append(c.Join, u)
			}
		}
	})
	l := leaderOf(t, s)
	requireMembers(t, l, 3)
}

// A server with an empty data dir joins with a K10 server token: it learns the CA
// from the member (checking the pin), gets the credentials, and becomes a voter. A
// token pinning another CA, or a wrong secret, is refused at once.
func TestJoinFetchesPinnedCredentials(t *testing.T) {
	s := startConfigured(t, 2, func(i int, urls []string, c *Config) {
		if i == 0 {
			c.Bootstrap = true
			return
		}
		c.DataDir = t.TempDir() // nothing seeded
		c.Join = []string{urls[0]}
		c.JoinToken = pki.Token{CAHash: testCA().Hash(), Secret: testServerToken}.String()
	})
	l := leaderOf(t, s)
	requireMembers(t, l, 2)
	got, err := pki.LoadCA(pki.ServerFiles{DataDir: s[1].cfg.DataDir}.TLSDir())
	if err != nil || got.Hash() != testCA().Hash() {
		t.Fatalf("joined server's CA: %v", err)
	}
	other, _ := pki.NewCA("other")
	for what, tok := range map[string]pki.Token{
		"another CA's pin": {CAHash: other.Hash(), Secret: testServerToken},
		"a wrong secret":   {CAHash: testCA().Hash(), Secret: "nope"},
		"the node token":   {CAHash: testCA().Hash(), Secret: testNodeToken},
	} {
		_, err := New(Config{ID: "s9", DataDir: t.TempDir(), Join: []string{l.url}, JoinToken: tok.String(), RaftInMemory: true}, Deps{})
		if err == nil {
			t.Errorf("joined with %s", what)
		}
	}
}
