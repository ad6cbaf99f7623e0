package raftstore

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keelson/keelson/pki"
)

// testTLS is a raft TLS configuration for one server of a test cluster: every store
// of one test shares ca.
func testTLS(tb testing.TB, ca *pki.CA, role pki.Role, name string) *tls.Config {
	tb.Helper()
	c, k, err := ca.IssueKeyPair(role, name, []string{"127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	kp, err := tls.X509KeyPair(c, k)
	if err != nil {
		tb.Fatal(err)
	}
	return pki.MutualTLS(ca.Pool(), kp, pki.RoleServer)
}

func testCA(tb testing.TB) *pki.CA {
	tb.Helper()
	ca, err := pki.NewCA("raftstore test")
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

func TestRaftRefusesPlainTCP(t *testing.T) {
	_, err := Open(Config{ID: "s0", DataDir: t.TempDir(), BindAddr: freeAddr(t), Bootstrap: true})
	if err == nil {
		t.Fatal("raft opened a plain TCP listener")
	}
}

func TestRaftOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testCA(t)
	var peers []Peer
	var cfgs []Config
	for i := range 3 {
		id := fmt.Sprintf("s%d", i)
		cfg := Config{ID: id, DataDir: filepath.Join(dir, id), BindAddr: freeAddr(t), Bootstrap: true, TLS: testTLS(t, ca, pki.RoleServer, id)}
		cfg.UseFastTimeouts()
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
		cfgs = append(cfgs, cfg)
		peers = append(peers, Peer{ID: id, Addr: cfg.BindAddr})
	}
	var stores []*Store
	for _, cfg := range cfgs {
		cfg.Peers = peers
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	l := leaderOf(t, stores)
	_, idx := writeNodes(t, stores, "tls", 3)
	converged(t, stores, idx)

	// A peer with a certificate from another CA, or a node certificate from this CA,
	// gets no raft connection.
	for what, cfg := range map[string]*tls.Config{
		"foreign CA":       testTLS(t, testCA(t), pki.RoleServer, "intruder"),
		"node certificate": testTLS(t, ca, pki.RoleNode, "n1"),
	} {
		cfg.InsecureSkipVerify = true // the intruder does not care who it talks to
		cfg.VerifyConnection = nil
		conn, err := tls.Dial("tcp", l.RaftAddr(), cfg)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil {
			t.Fatalf("a peer with a %s got a raft connection", what)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.Apply(ctx, RegisterNodeCmd(reg("after-intruder"), t0)); err != nil {
		t.Fatal(err)
	}
}
