// Package pki is Keelson's cluster identity: a certificate authority made at bootstrap,
// certificates for servers, nodes and readers whose role and name the verifier can
// read back, and join tokens that pin the CA so a first contact is not
// trust-on-first-use. It is a leaf: it imports nothing of Keelson's.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Role is what a certificate's holder may do. It is carried in the certificate's
// Organization as "keelson:<role>", as Kubernetes carries groups, so verifying the
// chain and reading the subject is all an authorizer needs.
type Role string

const (
	RoleServer Role = "server" // raft member and API server
	RoleNode   Role = "node"   // one agent; CommonName is the node name
	RoleReader Role = "reader" // people and tools: read API only
)

const orgPrefix = "keelson:"

// Lifetimes: the CA outlives every certificate it signs. Renewal is re-issuing (a
// server re-issues its own certificate on every start).
const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 365 * 24 * time.Hour
)

// Identity is who a verified certificate speaks for.
type Identity struct {
	Role Role
	Name string
	// KeyHash is the SHA-256 of the certificate's public key (hex): a node name is
	// bound to the first key that registered it.
	KeyHash string
}

// CA is the cluster certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
}

// NewCA makes a fresh self-signed ECDSA P-256 CA.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"keelson"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, CertPEM: pemBlock("CERTIFICATE", der), Key: key}, nil
}

// ParseCA reads a CA from its PEM certificate and PEM private key.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, errors.New("CA certificate is not a CA (basicConstraints)")
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if !publicEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("CA key does not match the CA certificate")
	}
	return &CA{Cert: cert, CertPEM: certPEM, Key: key}, nil
}

// KeyPEM is the CA's private key, PEM-encoded (a joining server receives it).
func (ca *CA) KeyPEM() ([]byte, error) { return MarshalKey(ca.Key) }

// Pool is a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Hash is the SHA-256 of the CA certificate (DER, hex), the pin in join tokens.
func (ca *CA) Hash() string { return CertHash(ca.Cert) }

// CertHash is the SHA-256 of a certificate's DER encoding, in hex.
func CertHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Issue signs a certificate for pub with role and name. hosts (IPs or DNS names) go
// into the SANs, for certificates that also serve TLS (servers, agents).
func (ca *CA) Issue(role Role, name string, hosts []string, pub crypto.PublicKey) ([]byte, error) {
	if name == "" {
		return nil, errors.New("issue certificate: empty name")
	}
	switch role {
	case RoleServer, RoleNode, RoleReader:
	default:
		return nil, fmt.Errorf("issue certificate: unknown role %q", role)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{orgPrefix + string(role)}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign %s certificate for %s: %w", role, name, err)
	}
	return pemBlock("CERTIFICATE", der), nil
}

// IssueKeyPair makes a key and a certificate for it (PEM certificate, PEM key).
func (ca *CA) IssueKeyPair(role Role, name string, hosts []string) (certPEM, keyPEM []byte, err error) {
	key, err := NewKey()
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = ca.Issue(role, name, hosts, key.Public())
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = MarshalKey(key)
	return certPEM, keyPEM, err
}

// Identify reads role and name from a certificate that was verified against the
// cluster CA. A certificate without exactly one keelson role is refused.
func Identify(c *x509.Certificate) (Identity, error) {
	var role Role
	for _, o := range c.Subject.Organization {
		if len(o) > len(orgPrefix) && o[:len(orgPrefix)] == orgPrefix {
			if role != "" {
				return Identity{}, errors.New("certificate carries several keelson roles")
			}
			role = Role(o[len(orgPrefix):])
		}
	}
	switch role {
	case RoleServer, RoleNode, RoleReader:
	default:
		return Identity{}, fmt.Errorf("certificate %q has no keelson role", c.Subject.CommonName)
	}
	if c.Subject.CommonName == "" {
		return Identity{}, errors.New("certificate has an empty common name")
	}
	return Identity{Role: role, Name: c.Subject.CommonName, KeyHash: KeyHash(c.PublicKey)}, nil
}

// KeyHash is the SHA-256 of a public key's PKIX encoding, in hex.
func KeyHash(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// NewKey makes an ECDSA P-256 private key.
func NewKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// MarshalKey encodes a private key as PEM (PKCS #8).
func MarshalKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pemBlock("PRIVATE KEY", der), nil
}

// ParseKey decodes a PEM private key (PKCS #8, or EC / PKCS #1).
func ParseKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM private key")
	}
	var k any
	var err error
	switch blk.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("private key cannot sign")
	}
	return s, nil
}

// ParseCert decodes the first PEM certificate in b.
func ParseCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return c, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n
}

func publicEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
