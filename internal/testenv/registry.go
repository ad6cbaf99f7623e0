package testenv

import (
	"testing"

	"github.com/keelson/keelson/internal/devenv"
)

// StartRegistry starts a private OCI registry (Debian's docker-registry) on a free
// 127.0.0.1 port, storing into a temporary directory, and returns its "127.0.0.1:PORT"
// address. It serves plain HTTP; it is stopped when the test ends.
func StartRegistry(t testing.TB) string {
	t.Helper()
	RequireBinary(t, "docker-registry")
	addr, stop, err := devenv.StartRegistry(t.TempDir(), "")
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	t.Cleanup(stop)
	return addr
}
