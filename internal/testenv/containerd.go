package testenv

import (
	"os"
	"testing"

	"github.com/keelson/keelson/internal/devenv"
)

// StartContainerd starts a private containerd for the test and returns its socket.
// It is stopped, its containers killed and its mounts and files removed when the test
// ends. It needs root and the containerd, ctr and runc programs.
func StartContainerd(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	RequireBinary(t, "containerd", "ctr", "runc")
	dir, err := os.MkdirTemp("/run", "keelson-test-")
	if err != nil {
		t.Fatalf("containerd dir: %v", err)
	}
	sock, stop, err := devenv.StartContainerd(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("containerd: %v", err)
	}
	t.Cleanup(func() {
		stop()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove containerd dir: %v", err)
		}
	})
	return sock
}
