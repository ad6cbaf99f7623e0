package raftstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA issues certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keelson test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes cert, key and CA PEM files for one server and returns their paths.
func (ca *testCA) issue(t *testing.T, dir, name string) (certFile, keyFile, caFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile, caFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), filepath.Join(dir, "ca.crt")
	for f, data := range map[string][]byte{
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		caFile:   ca.pem,
	} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, caFile
}

func TestRaftOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	var peers []Peer
	var cfgs []Config
	for i := range 3 {
		id := fmt.Sprintf("s%d", i)
		tlsCfg, err := MutualTLS(ca.issue(t, dir, id))
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{ID: id, DataDir: filepath.Join(dir, id), BindAddr: freeAddr(t), Bootstrap: true, TLS: tlsCfg}
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

	// A peer with a certificate from another CA is refused.
	foreign, err := MutualTLS(newTestCA(t).issue(t, t.TempDir(), "intruder"))
	if err != nil {
		t.Fatal(err)
	}
	foreign.InsecureSkipVerify = true // the intruder does not care who it talks to
	conn, err := tls.Dial("tcp", l.RaftAddr(), foreign)
	if err == nil {
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("a peer with a foreign certificate got a raft connection")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.Apply(ctx, RegisterNodeCmd(reg("after-intruder"), t0)); err != nil {
		t.Fatal(err)
	}
}
