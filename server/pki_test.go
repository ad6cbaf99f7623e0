package server

import (
	"crypto/tls"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/server/client"
)

// The test CA and tokens every in-package test cluster shares, so a request can be
// made as any role without a handshake with a particular server.
const (
	testServerToken = "st-secret"
	testNodeToken   = "nt-secret"
	testReadToken   = "rt-secret"
)

var testCA = sync.OnceValue(func() *pki.CA {
	ca, err := pki.NewCA("server test")
	if err != nil {
		panic(err)
	}
	return ca
})

// seedCredentials puts the test CA and token files into a server's data dir, as
// --bootstrap or a join would.
func seedCredentials(t *testing.T, dataDir string) {
	t.Helper()
	f := pki.ServerFiles{DataDir: dataDir}
	if err := pki.SaveCA(f.TLSDir(), testCA()); err != nil {
		t.Fatal(err)
	}
	for path, tok := range map[string]string{f.ServerTokens(): testServerToken, f.NodeTokens(): testNodeToken, f.ReadTokens(): testReadToken} {
		if err := pki.WriteSecret(path, []byte(tok+"\n")); err != nil {
			t.Fatal(err)
		}
	}
}

// testCerts holds one certificate (one key) per role and name: the same node always
// presents the same key, as a real agent does from its data dir.
var testCerts sync.Map

// certFor issues (once) a certificate of role for name from the test CA.
func certFor(t *testing.T, role pki.Role, name string) tls.Certificate {
	t.Helper()
	if kp, ok := testCerts.Load(string(role) + ":" + name); ok {
		return kp.(tls.Certificate)
	}
	c, k, err := testCA().IssueKeyPair(role, name, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	testCerts.Store(string(role)+":"+name, kp)
	return kp
}

// credTLS is the client TLS for a credential spec: "node:NAME", "server:NAME" or
// "reader:NAME" present a certificate of that role; anything else none.
func credTLS(t *testing.T, cred string) (*tls.Config, string) {
	t.Helper()
	if role, name, ok := strings.Cut(cred, ":"); ok {
		switch r := pki.Role(role); r {
		case pki.RoleNode, pki.RoleServer, pki.RoleReader:
			kp := certFor(t, r, name)
			return pki.ClientTLS(testCA().Pool(), &kp), ""
		}
	}
	return pki.ClientTLS(testCA().Pool(), nil), cred
}

// httpClientAs is an HTTP client for a credential spec (see credTLS); a bearer token
// is not added here.
func httpClientAs(t *testing.T, cred string) *http.Client {
	cfg, _ := credTLS(t, cred)
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// clientAs is an API client for a credential spec: a certificate role, or a bearer
// token (the read token).
func clientAs(t *testing.T, urls []string, cred string) *client.Client {
	cfg, tok := credTLS(t, cred)
	return client.New(urls, tok, client.WithTLSConfig(cfg))
}
