package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/keelson/keelson/pki"
)

// TLSFiles are the PEM files a client trusts and presents: the cluster CA (required
// for https servers: Keelson certificates are not in the system roots) and, for
// agents and readers with a certificate, a certificate and key.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// Config builds the TLS configuration: every server must be signed by the CA and hold
// a server certificate (a node certificate that names a server's address in its SANs
// must not pass for the server, or it could collect read tokens).
func (f TLSFiles) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, VerifyConnection: pki.AllowRoles(false, pki.RoleServer)}
	if f.CAFile != "" {
		b, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA file %s: no PEM certificates", f.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, errors.New("a client certificate needs both its certificate and key file")
	}
	if f.CertFile != "" {
		kp, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// NodeTLS is an agent's TLS from its node credentials: dial configures calls to the
// servers (verified as server certificates), listen serves the agent's log endpoint
// (server certificates required), both with the node certificate.
func (f TLSFiles) NodeTLS() (dial, listen *tls.Config, err error) {
	pool, err := pki.LoadPool(f.CAFile)
	if err != nil {
		return nil, nil, err
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("node certificate: %w", err)
	}
	return pki.ClientTLS(pool, &cert, pki.RoleServer), pki.MutualTLS(pool, cert, pki.RoleServer), nil
}
