package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/imagebuild"
)

// Env is what every cluster of an end-to-end package shares: the keelson binary, one
// private containerd, one registry holding the example image. Starting these once per
// package (not per test) keeps the suite inside CI's time budget.
type Env struct {
	Root       string // module root (manifests-example lives there)
	Bin        string // keelson binary
	Dir        string // short directory under /run: containerd state and socket
	Containerd string // containerd socket
	Registry   string // "127.0.0.1:PORT", plain HTTP
	// WebV1 and WebV2 are the example image; v2 reports "version: v2" at / so a
	// rolling update is visible in the answers.
	WebV1, WebV2 string

	stops []func()
}

// StartEnv builds (or takes $KEELSON_BIN) the binary, starts containerd and the
// registry and pushes the example image as keelson/web:v1 and :v2. On error it has
// already stopped what it started.
func StartEnv(ctx context.Context) (_ *Env, err error) {
	e := &Env{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.Root, err = ModuleRoot(); err != nil {
		return nil, err
	}
	if e.Dir, err = os.MkdirTemp("/run", "keelson-e2e-"); err != nil {
		return nil, fmt.Errorf("e2e dir: %w", err)
	}
	e.stops = append(e.stops, func() { _ = devenv.UnmountUnder(e.Dir); _ = os.RemoveAll(e.Dir) })
	if e.Bin = os.Getenv("KEELSON_BIN"); e.Bin == "" {
		e.Bin = filepath.Join(e.Dir, "keelson")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", e.Bin, "./cmd/keelson")
		cmd.Dir = e.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/keelson: %w: %s", err, out)
		}
	}
	sock, stop, err := devenv.StartContainerd(filepath.Join(e.Dir, "ctrd"))
	if err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	e.Containerd = sock
	e.stops = append(e.stops, stop)
	reg, stop, err := devenv.StartRegistry(filepath.Join(e.Dir, "registry"), "")
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	e.Registry = reg
	e.stops = append(e.stops, stop)
	e.WebV1, e.WebV2 = reg+"/keelson/web:v1", reg+"/keelson/web:v2"
	if err := e.pushWeb(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// pushWeb builds the example workload once and pushes it twice; v2 differs by its
// WEB_VERSION environment variable, so it is a different image with a visible version.
func (e *Env) pushWeb(ctx context.Context) error {
	bin, err := imagebuild.BuildGo(ctx, filepath.Join(e.Root, "manifests-example", "images", "web"))
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	v1, err := imagebuild.Image(bin, nil)
	if err != nil {
		return err
	}
	cf, err := v1.ConfigFile()
	if err != nil {
		return fmt.Errorf("image config: %w", err)
	}
	cfg := cf.Config
	cfg.Env = append(append([]string{}, cfg.Env...), "WEB_VERSION=v2")
	v2, err := mutate.Config(v1, cfg)
	if err != nil {
		return fmt.Errorf("image v2: %w", err)
	}
	if err := imagebuild.Push(ctx, v1, e.WebV1); err != nil {
		return err
	}
	return imagebuild.Push(ctx, v2, e.WebV2)
}

// Close stops the daemons (killing every container left) and removes the directory.
func (e *Env) Close() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
	e.stops = nil
}

// ModuleRoot finds the directory of this module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the keelson module")
	}
	return filepath.Dir(mod), nil
}
