package client

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
)

// NodeCredentials returns the agent's TLS files in dir (ca.crt, tls.crt, tls.key),
// exchanging the node-join token for a node certificate (CN = name) the first time.
// The key never leaves dir; later starts reuse the certificate, so the token is
// needed only once and may be revoked after. The CA is learnt from the first server
// whose CA matches the token's pin (K10<ca-hash>::<secret>), or read from caFile.
//
// While no server answers it retries every second until ctx ends; a refusal (4xx:
// a wrong or revoked token, a name bound to another key) ends it at once.
func NodeCredentials(ctx context.Context, servers []string, token, caFile, name string, hosts []string, dir string) (TLSFiles, error) {
	for {
		files, err := nodeCredentials(ctx, servers, token, caFile, name, hosts, dir)
		var e *Error
		if err == nil || (errors.As(err, &e) && e.StatusCode/100 == 4) || ctx.Err() != nil {
			return files, err
		}
		select {
		case <-ctx.Done():
			return files, err
		case <-time.After(time.Second):
		}
	}
}

func nodeCredentials(ctx context.Context, servers []string, token, caFile, name string, hosts []string, dir string) (TLSFiles, error) {
	files := TLSFiles{CAFile: filepath.Join(dir, pki.CACertFile), CertFile: filepath.Join(dir, pki.CertFile), KeyFile: filepath.Join(dir, pki.KeyFile)}
	if pki.HasKeyPair(dir) {
		if _, err := os.Stat(files.CAFile); err == nil {
			return files, nil
		}
	}
	if token == "" {
		return files, fmt.Errorf("no node certificate in %s and no node-join token (KEELSON_TOKEN or --token-file)", dir)
	}
	tok, err := pki.ParseToken(token)
	if err != nil {
		return files, fmt.Errorf("node token: %w", err)
	}
	var caPEM []byte
	if caFile != "" {
		if caPEM, err = os.ReadFile(caFile); err != nil {
			return files, fmt.Errorf("read CA file: %w", err)
		}
	}
	key, err := pki.NewKey()
	if err != nil {
		return files, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return files, fmt.Errorf("certificate request: %w", err)
	}
	req := api.NodeJoin{Name: name, Hosts: hosts, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))}
	var errs []error
	for _, s := range New(servers, "").servers {
		ca := caPEM
		if ca == nil {
			if _, ca, err = pki.FetchPinnedCA(ctx, s+api.PathCA, tok.CAHash); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return files, errors.New("CA: no PEM certificate")
		}
		c := New([]string{s}, tok.Secret, WithTLSConfig(pki.ClientTLS(pool, nil, pki.RoleServer)))
		var out api.NodeJoined
		if _, err := c.call(ctx, http.MethodPost, api.PathNodeJoin, nil, req, &out); err != nil {
			errs = append(errs, fmt.Errorf("node join via %s: %w", s, err))
			continue
		}
		keyPEM, err := pki.MarshalKey(key)
		if err != nil {
			return files, err
		}
		if err := pki.WriteSecret(files.CAFile, ca); err != nil {
			return files, err
		}
		return files, pki.SaveKeyPair(dir, []byte(out.Cert), keyPEM)
	}
	return files, errors.Join(errs...)
}
