package security

import (
	"crypto/x509"
	"errors"
	"net/netip"
	"testing"

	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/server/client"
)

func caPool(t *testing.T, tg *target) *x509.CertPool {
	t.Helper()
	p, err := pki.LoadPool(tg.c.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ipIn is an address inside cidr (its tenth).
func ipIn(t *testing.T, cidr string) string {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatalf("pod CIDR %q: %v", cidr, err)
	}
	a := p.Addr()
	for range 10 {
		a = a.Next()
	}
	return a.String()
}

func asClientError(err error, e **client.Error) bool { return errors.As(err, e) }
