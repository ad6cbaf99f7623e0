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
// carried in a K10 join token. Nothing secret is sent on this unverified connection;
// every later call verifies the server against the returned pool.
func FetchPinnedCA(ctx context.Context, url, caHash string) (*x509.Certificate, []byte, error) {
	if caHash == "" {
		return nil, nil, fmt.Errorf("token has no CA hash (K10<hash>::<secret>): give the CA file instead")
	}
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
	return cert, b, nil
}
