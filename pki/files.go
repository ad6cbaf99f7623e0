package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
)

// File names inside a credentials directory (a server's <data-dir>/tls, an agent's
// <data-dir>/tls, `keelson dev`'s .keelson/dev/...).
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
	CertFile   = "tls.crt"
	KeyFile    = "tls.key"
)

// WriteSecret writes a file only its owner can read, creating its directory.
func WriteSecret(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadCA reads dir/ca.crt and dir/ca.key.
func LoadCA(dir string) (*CA, error) {
	cert, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	key, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	ca, err := ParseCA(cert, key)
	if err != nil {
		return nil, fmt.Errorf("CA in %s: %w", dir, err)
	}
	return ca, nil
}

// SaveCA writes ca.crt and ca.key into dir.
func SaveCA(dir string, ca *CA) error {
	key, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := WriteSecret(filepath.Join(dir, CACertFile), ca.CertPEM); err != nil {
		return err
	}
	return WriteSecret(filepath.Join(dir, CAKeyFile), key)
}

// HasCA reports whether dir holds a CA certificate and key.
func HasCA(dir string) bool {
	_, e1 := os.Stat(filepath.Join(dir, CACertFile))
	_, e2 := os.Stat(filepath.Join(dir, CAKeyFile))
	return e1 == nil && e2 == nil
}

// LoadPool reads a PEM CA bundle into a pool.
func LoadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s: no PEM certificates", path)
	}
	return p, nil
}

// LoadKeyPair reads dir/tls.crt and dir/tls.key.
func LoadKeyPair(dir string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load certificate from %s: %w", dir, err)
	}
	return c, nil
}

// SaveKeyPair writes dir/tls.crt and dir/tls.key.
func SaveKeyPair(dir string, certPEM, keyPEM []byte) error {
	if err := WriteSecret(filepath.Join(dir, CertFile), certPEM); err != nil {
		return err
	}
	return WriteSecret(filepath.Join(dir, KeyFile), keyPEM)
}

// HasKeyPair reports whether dir holds tls.crt and tls.key.
func HasKeyPair(dir string) bool {
	_, e1 := os.Stat(filepath.Join(dir, CertFile))
	_, e2 := os.Stat(filepath.Join(dir, KeyFile))
	return e1 == nil && e2 == nil
}

// ServerFiles names the credential files in a server's data dir: tls/ holds the CA
// and the server's certificate, tokens/ the accepted join and read tokens (one per
// line). Servers, the dev cluster and the test harness all find them here.
type ServerFiles struct{ DataDir string }

func (f ServerFiles) TLSDir() string       { return filepath.Join(f.DataDir, "tls") }
func (f ServerFiles) TokenDir() string     { return filepath.Join(f.DataDir, "tokens") }
func (f ServerFiles) CACert() string       { return filepath.Join(f.TLSDir(), CACertFile) }
func (f ServerFiles) ServerTokens() string { return filepath.Join(f.TokenDir(), "server") }
func (f ServerFiles) NodeTokens() string   { return filepath.Join(f.TokenDir(), "node") }
func (f ServerFiles) ReadTokens() string   { return filepath.Join(f.TokenDir(), "read") }
func (f ServerFiles) RemovedNodes() string { return filepath.Join(f.DataDir, "removed-nodes") }
