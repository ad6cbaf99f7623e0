package devcluster

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteKubeconfig(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := writeKubeconfig(&out, Options{Dir: dir, HTTPAddr: "127.0.0.1:7480"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kubeconfig")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "server: http://127.0.0.1:7480") || strings.Contains(string(b), "token") {
		t.Errorf("kubeconfig:\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v", fi.Mode())
	}
	if !strings.Contains(out.String(), "export KUBECONFIG="+path) {
		t.Errorf("printed:\n%s", out.String())
	}
}
