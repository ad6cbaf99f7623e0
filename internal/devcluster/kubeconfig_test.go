package devcluster

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/pki"
)

func TestWriteKubeconfig(t *testing.T) {
	dir := t.TempDir()
	creds := devenv.Credentials{ServerDataDir: filepath.Join(dir, "server")}
	files := pki.ServerFiles{DataDir: creds.ServerDataDir}
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.SaveCA(files.TLSDir(), ca); err != nil {
		t.Fatal(err)
	}
	tok := pki.NewToken(ca.Hash())
	if err := pki.WriteSecret(files.ReadTokens(), []byte(tok.String()+"\n")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeKubeconfig(&out, Options{Dir: dir, HTTPAddr: "127.0.0.1:7480"}, creds); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kubeconfig")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "server: https://127.0.0.1:7480") || !strings.Contains(string(b), tok.Secret) ||
		!strings.Contains(string(b), "certificate-authority-data") {
		t.Errorf("kubeconfig (want the https URL, the read token and the CA):\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v", fi.Mode())
	}
	if !strings.Contains(out.String(), "export KUBECONFIG="+path) {
		t.Errorf("printed:\n%s", out.String())
	}
}
