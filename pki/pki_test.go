package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIssueAndIdentify(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []Role{RoleServer, RoleNode, RoleReader} {
		certPEM, _, err := ca.IssueKeyPair(role, "n1", []string{"127.0.0.1", "host.example"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCert(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Fatalf("%s: verify: %v", role, err)
		}
		id, err := Identify(c)
		if err != nil || id.Role != role || id.Name != "n1" || len(id.KeyHash) != 64 {
			t.Fatalf("%s: identity %+v, %v", role, id, err)
		}
	}
	if _, err := ca.Issue("admin", "x", nil, ca.Key.Public()); err == nil {
		t.Fatal("unknown role issued")
	}
	// The CA itself has no role: it must not pass as a member.
	if _, err := Identify(ca.Cert); err == nil {
		t.Fatal("CA certificate identified as a member")
	}
}

func TestCARoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca, _ := NewCA("test")
	if err := SaveCA(dir, ca); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCA(dir)
	if err != nil || got.Hash() != ca.Hash() {
		t.Fatalf("load: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, CAKeyFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode %v", st.Mode())
	}
	other, _ := NewCA("other")
	okey, _ := other.KeyPEM()
	if _, err := ParseCA(ca.CertPEM, okey); err == nil {
		t.Fatal("mismatched CA key accepted")
	}
}

func TestTokenParse(t *testing.T) {
	ca, _ := NewCA("test")
	tok := NewToken(ca.Hash())
	got, err := ParseToken(tok.String() + "\n")
	if err != nil || got != tok {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if got, _ := ParseToken("plainsecret"); got.CAHash != "" || got.Secret != "plainsecret" {
		t.Fatalf("bare secret: %+v", got)
	}
	for _, bad := range []string{"", "K10abc::s", "K10" + strings.Repeat("z", 64) + "::s", "K10" + ca.Hash() + "::"} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTokenFileRereadsOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	f := NewTokenFile(path)
	if f.Accepts("a") {
		t.Fatal("missing file accepted a token")
	}
	if err := os.WriteFile(path, []byte("# node tokens\nK10"+strings.Repeat("a", 64)+"::one\ntwo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !f.Accepts("one") || !f.Accepts("two") || !f.Accepts("K10"+strings.Repeat("b", 64)+"::one") || f.Accepts("three") {
		t.Fatal("wrong acceptance")
	}
	// Revoke "one": the mtime moves forward, the file is re-read.
	if err := os.WriteFile(path, []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	_ = os.Chtimes(path, later, later)
	if f.Accepts("one") || !f.Accepts("two") {
		t.Fatal("revoked token still accepted")
	}
}

func TestRolesOnTheWire(t *testing.T) {
	ca, _ := NewCA("test")
	pair := func(role Role, name string) tls.Certificate {
		c, k, err := ca.IssueKeyPair(role, name, []string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		kp, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := PeerIdentity(r.TLS)
		_, _ = w.Write([]byte(id.Name))
	}))
	srv.TLS = MutualTLS(ca.Pool(), pair(RoleServer, "s1"), RoleServer)
	srv.StartTLS()
	defer srv.Close()
	get := func(cert *tls.Certificate) error {
		tr := &http.Transport{TLSClientConfig: ClientTLS(ca.Pool(), cert, RoleServer)}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(srv.URL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	s2 := pair(RoleServer, "s2")
	if err := get(&s2); err != nil {
		t.Fatalf("server certificate refused: %v", err)
	}
	n1 := pair(RoleNode, "n1")
	if err := get(&n1); err == nil {
		t.Fatal("node certificate admitted where only servers may connect")
	}
	if err := get(nil); err == nil {
		t.Fatal("connection without a certificate admitted")
	}
}

func TestFetchPinnedCA(t *testing.T) {
	ca, _ := NewCA("test")
	serve := func(role Role) *httptest.Server {
		t.Helper()
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(ca.CertPEM) }))
		if role != "" {
			c, k, err := ca.IssueKeyPair(role, "s1", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			kp, err := tls.X509KeyPair(c, k)
			if err != nil {
				t.Fatal(err)
			}
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp}}
		}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	ctx := context.Background()
	good := serve(RoleServer)
	if _, _, err := FetchPinnedCA(ctx, good.URL, ca.Hash()); err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA("other")
	if _, _, err := FetchPinnedCA(ctx, good.URL, other.Hash()); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("wrong pin: %v", err)
	}
	// A relay with its own certificate passing the real CA along, or a node's
	// certificate from the right CA: the pin matches, the connection does not.
	for name, srv := range map[string]*httptest.Server{"relay": serve(""), "node certificate": serve(RoleNode)} {
		if _, _, err := FetchPinnedCA(ctx, srv.URL, ca.Hash()); !errors.Is(err, ErrPinMismatch) {
			t.Errorf("%s: %v, want ErrPinMismatch", name, err)
		}
	}
}
