package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrPinMismatch is a CA whose hash is not the token's pin.
var ErrPinMismatch = errors.New("refusing a CA that does not match the pin")

// FetchPinnedCA gets the cluster CA certificate from a server it does not trust yet
// (url serves the PEM CA) and accepts it only if its SHA-256 is caHash, the pin
// carried in a K10 join token, and the connection it came over was made with a
// server certificate that CA signed: the handshake cannot be verified before the CA
// is known, so it is verified right after, and a relay that presents its own
// certificate while passing the real CA along is refused too. Nothing secret is sent
// before that check; every later call verifies the server against the returned pool.
func FetchPinnedCA(ctx context.Context, url, caHash string) (*x509.Certificate, []byte, error) {
	if caHash == "" {
		return nil, nil, fmt.Errorf("token has no CA hash (K10<hash>::<secret>): give the CA file instead")
	}
	// Verified after the fact against the pinned CA (below): the CA is what we fetch.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // pinned below
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch CA: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch CA: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("fetch CA from %s: %s", url, resp.Status)
	}
	cert, err := ParseCert(b)
	if err != nil {
		return nil, nil, fmt.Errorf("CA from %s: %w", url, err)
	}
	if got := CertHash(cert); got != caHash {
		return nil, nil, fmt.Errorf("CA from %s has hash %s, the token pins %s: %w (wrong server or an interceptor)", url, got, caHash, ErrPinMismatch)
	}
	if err := verifyServerConn(resp.TLS, cert); err != nil {
		return nil, nil, fmt.Errorf("CA from %s: %w: %v (an interceptor relaying the CA?)", url, ErrPinMismatch, err)
	}
	return cert, b, nil
}

// verifyServerConn checks that the connection's server certificate chains to ca and
// carries the server role.
func verifyServerConn(cs *tls.ConnectionState, ca *x509.Certificate) error {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return errors.New("not a TLS connection")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("the server's certificate is not from the pinned CA: %w", err)
	}
	id, err := Identify(leaf)
	if err != nil {
		return err
	}
	if id.Role != RoleServer {
		return fmt.Errorf("the certificate is a %s's, not a server's", id.Role)
	}
	return nil
}
