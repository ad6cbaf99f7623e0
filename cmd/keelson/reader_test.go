package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keelson/keelson/pki"
)

func TestReaderCert(t *testing.T) {
	data := t.TempDir()
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.SaveCA(pki.ServerFiles{DataDir: data}.TLSDir(), ca); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "alice")
	stdout, errOut, code := run(t, context.Background(), newReaderCertCmd(), "alice", "--data-dir", data, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "KEELSON_CERT_FILE="+filepath.Join(out, pki.CertFile)) {
		t.Errorf("no export line: %q", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, pki.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.ParseCert(b)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := pki.Identify(c); err != nil || id.Role != pki.RoleReader || id.Name != "alice" {
		t.Fatalf("identity %+v %v", id, err)
	}
	if _, _, code := run(t, context.Background(), newReaderCertCmd(), "bob", "--data-dir", t.TempDir(), "--out", out); code == 0 {
		t.Error("issued without a CA")
	}
}
