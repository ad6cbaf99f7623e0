// Package imagebuild turns Go main packages of this repository into OCI images and
// pushes them to a registry. Tests and the example workloads need real images, but the
// machines that run them have no Docker engine and no internet registry: a static Go
// binary in a single tar layer is a complete image, so we build it ourselves.
package imagebuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildGo compiles the main package in pkgDir into a static binary (CGO_ENABLED=0, so
// the image needs no libc) and returns its path. The binary is named after pkgDir and
// lives in a fresh temporary directory that the caller removes when done
// (os.RemoveAll(filepath.Dir(path))).
func BuildGo(ctx context.Context, pkgDir string) (string, error) {
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	out, err := os.MkdirTemp("", "keelson-build-")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkgDir, err)
	}
	bin := filepath.Join(out, filepath.Base(abs))
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(out)
		return "", fmt.Errorf("go build %s: %w: %s", pkgDir, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return bin, nil
}

// BuildAndPush builds the main package in pkgDir, packs it as an image whose
// entrypoint is the binary, and pushes it to ref (a plain-HTTP registry is fine).
func BuildAndPush(ctx context.Context, pkgDir, ref string) error {
	bin, err := BuildGo(ctx, pkgDir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	img, err := Image(bin, nil)
	if err != nil {
		return err
	}
	return Push(ctx, img, ref)
}
