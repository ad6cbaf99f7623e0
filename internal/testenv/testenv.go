// Package testenv decides whether a test that needs real parts of the machine (root,
// containerd, CNI plugins, git, nftables) can run. Locally such a test skips with a
// clear message; under CI=true a missing dependency fails the test, so a green CI run
// always means the real end-to-end paths were exercised.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI, where nothing may be skipped for lack of a
// dependency.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test (locally) or fails it (in CI) because of what is missing.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true but %s: install it (make test does) instead of skipping", what)
	}
	t.Skipf("skipping: %s (run `make test` as root to install and start it)", what)
}

// RequireRoot needs the test to run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "the test needs root")
	}
}

// RequireBinary needs each named program on PATH (or at the given absolute path).
func RequireBinary(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Missing(t, n+" is not installed")
		}
	}
}

// RequireFile needs a file to exist (e.g. a CNI plugin in /usr/lib/cni).
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, path+" is missing")
	}
}
