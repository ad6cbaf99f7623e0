package imagebuild

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the fixed timestamp of every file and of the image config, so that building
// the same binary twice yields the same digest (no spurious re-pulls).
var epoch = time.Unix(0, 0).UTC()

// Image packs a static binary as a one-layer image: the binary at /<name>, an empty
// /tmp (programs expect it), and a config whose entrypoint is entrypoint, or
// ["/<name>"] when entrypoint is empty.
func Image(binaryPath string, entrypoint []string) (v1.Image, error) {
	data, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("image from %s: %w", binaryPath, err)
	}
	name := filepath.Base(binaryPath)
	layerTar, err := layerTar(name, data)
	if err != nil {
		return nil, fmt.Errorf("image from %s: %w", binaryPath, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: epoch}, CreatedBy: "keelson imagebuild " + name,
	}})
	if err != nil {
		return nil, fmt.Errorf("image append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture = runtime.GOARCH
	cfg.OS = "linux"
	cfg.Created = v1.Time{Time: epoch}
	if len(entrypoint) == 0 {
		entrypoint = []string{"/" + name}
	}
	cfg.Config.Entrypoint = entrypoint
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cfg.Config.WorkingDir = "/"
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("image set config: %w", err)
	}
	return img, nil
}

// layerTar writes the layer's files: /tmp and the binary.
func layerTar(name string, binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	headers := []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch},
		{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(binary)), ModTime: epoch},
	}
	for _, h := range headers {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(binary); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WithEnv returns img with env ("KEY=VALUE") added to its config, e.g. to make tags
// of one binary that report different versions.
func WithEnv(img v1.Image, env ...string) (v1.Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Env = append(cfg.Config.Env, env...)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("image set config: %w", err)
	}
	return img, nil
}
