package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
)

// AllowRoles returns a tls.Config VerifyConnection callback that admits a peer only
// when its (already chain-verified) certificate carries one of roles. With optional
// set, a peer without a certificate passes (the HTTP API, where bearer tokens are the
// alternative).
func AllowRoles(optional bool, roles ...Role) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			if optional {
				return nil
			}
			return errors.New("peer presented no certificate")
		}
		id, err := Identify(cs.PeerCertificates[0])
		if err != nil {
			return err
		}
		if !slices.Contains(roles, id.Role) {
			return fmt.Errorf("peer %q has role %s, want %v", id.Name, id.Role, roles)
		}
		return nil
	}
}

// MutualTLS is the configuration for a listener and dialer that both require a
// certificate from the cluster CA with one of roles (raft: servers only; the agent's
// log endpoint: servers calling, a node answering).
func MutualTLS(pool *x509.CertPool, cert tls.Certificate, roles ...Role) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		VerifyConnection: AllowRoles(false, roles...),
	}
}

// ClientTLS is a dialer's configuration: verify the server against the cluster CA
// and, with roles, its role; present cert when non-nil.
func ClientTLS(pool *x509.CertPool, cert *tls.Certificate, roles ...Role) *tls.Config {
	c := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	if len(roles) > 0 {
		c.VerifyConnection = AllowRoles(false, roles...)
	}
	return c
}

// PeerIdentity is the identity of a connection's verified peer certificate, if any.
func PeerIdentity(cs *tls.ConnectionState) (Identity, bool) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return Identity{}, false
	}
	id, err := Identify(cs.PeerCertificates[0])
	return id, err == nil
}
