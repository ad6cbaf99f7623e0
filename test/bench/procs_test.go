package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keelson/keelson/test/harness"
)

// keelsonBin returns $KEELSON_BIN, or builds the binary once into the benchmark's
// temporary directory.
func keelsonBin(b testing.TB) string {
	b.Helper()
	if bin := os.Getenv("KEELSON_BIN"); bin != "" {
		return bin
	}
	root, err := harness.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "keelson")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/keelson")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/keelson: %v: %s", err, out)
	}
	return bin
}
