package imagebuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/keelson/keelson/internal/testenv"
)

func TestBuildAndPush(t *testing.T) {
	testenv.RequireBinary(t, "go")
	addr := testenv.StartRegistry(t)
	ctx := context.Background()

	bin, err := BuildGo(ctx, "testdata/hello")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	img, err := Image(bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := addr + "/test/hello:v1"
	if err := Push(ctx, img, ref); err != nil {
		t.Fatal(err)
	}

	// Read it back from the registry: same digest, entrypoint is the binary.
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull back: %v", err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("pulled digest %s, pushed %s", d, want)
	}
	cfg, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if ep := cfg.Config.Entrypoint; len(ep) != 1 || ep[0] != "/hello" {
		t.Errorf("entrypoint = %q, want [/hello]", ep)
	}
	layers, _ := got.Layers()
	if len(layers) != 1 {
		t.Errorf("%d layers, want 1", len(layers))
	}

	// The same binary packs to the same digest: rebuilding does not force re-pulls.
	again, err := Image(bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Digest(); d != want {
		t.Errorf("repacking changed the digest: %s != %s", d, want)
	}
}

func TestBuildGoReportsCompileErrors(t *testing.T) {
	testenv.RequireBinary(t, "go")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := BuildGo(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Fatalf("BuildGo of a broken package: err = %v, want the compiler's message", err)
	}
}
