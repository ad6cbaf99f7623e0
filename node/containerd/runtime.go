// Package containerd runs Keelson pods for real: node.Runtime implemented with a
// containerd daemon (images, containers, tasks) and the standard CNI plugins (one
// network namespace per pod, wired by bridge + host-local + portmap).
//
// Everything this package makes can be found again by an agent that restarted:
// containers carry the pod UID and container name in containerd labels, and sandboxes
// are JSON records under Config.StateDir next to their network namespace bind mount.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"github.com/keelson/keelson/node"
)

// Config says which containerd to use and where the runtime keeps its own state.
type Config struct {
	// Address is containerd's gRPC socket, e.g. /run/containerd/containerd.sock.
	Address string
	// Namespace is the containerd namespace holding Keelson's images and containers
	// (default "keelson"), so they never mix with another user of the same daemon.
	Namespace string
	// StateDir holds network namespace bind mounts, sandbox records, the generated CNI
	// configuration and host-local's allocations. It must survive agent restarts.
	StateDir string
	// CNIBinDir is where the CNI plugin programs are (default /usr/lib/cni).
	CNIBinDir string
	// CNIConfDir is where the generated conflist is written (default StateDir/cni).
	CNIConfDir string
	// BridgeName is the host bridge pods attach to (default "keelson0", at most 15 bytes).
	BridgeName string
	// InsecureRegistries are registry hosts ("127.0.0.1:5000") pulled over plain HTTP.
	InsecureRegistries []string
	// Logger receives the runtime's diagnostics; nil discards them.
	Logger *slog.Logger
}

// Runtime is node.Runtime on containerd and CNI. It is safe for concurrent use.
type Runtime struct {
	cfg    Config
	client *ctrd.Client
	log    *slog.Logger
	locks  keyedMutex // per pod UID and per container ID: retries must not interleave
	net    networks

	// base outlives requests: exit watchers started by StartContainer run on it until
	// the container exits or Close cancels it.
	base   context.Context
	cancel context.CancelFunc
}

var _ node.Runtime = (*Runtime)(nil)

// snapshotter is the only snapshotter Keelson uses; Debian's kernel supports it.
const snapshotter = "overlayfs"

// New connects to containerd and prepares the state directories. It does not touch
// existing sandboxes or containers: the agent lists and adopts them.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Address == "" {
		return nil, errors.New("containerd runtime: no containerd address")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("containerd runtime: no state directory")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "keelson"
	}
	if cfg.CNIBinDir == "" {
		cfg.CNIBinDir = "/usr/lib/cni"
	}
	if cfg.CNIConfDir == "" {
		cfg.CNIConfDir = filepath.Join(cfg.StateDir, "cni")
	}
	if cfg.BridgeName == "" {
		cfg.BridgeName = "keelson0"
	}
	if len(cfg.BridgeName) > 15 {
		return nil, fmt.Errorf("containerd runtime: bridge name %q longer than 15 bytes", cfg.BridgeName)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{cfg.StateDir, netnsDir(cfg.StateDir), sandboxDir(cfg.StateDir), cfg.CNIConfDir, ipamDir(cfg.StateDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("containerd runtime: %w", err)
		}
	}
	client, err := ctrd.New(cfg.Address, ctrd.WithDefaultNamespace(cfg.Namespace))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", cfg.Address, err)
	}
	if _, err := client.Version(ctx); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("containerd at %s: %w", cfg.Address, err)
	}
	r := &Runtime{cfg: cfg, client: client, log: cfg.Logger}
	r.base, r.cancel = context.WithCancel(namespaces.WithNamespace(context.Background(), cfg.Namespace))
	return r, nil
}

// Close disconnects from containerd. Containers keep running: they belong to the
// node, not to this process.
func (r *Runtime) Close() error {
	r.cancel()
	return r.client.Close()
}

// ctx puts the runtime's containerd namespace on a context.
func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

func netnsDir(state string) string   { return filepath.Join(state, "netns") }
func sandboxDir(state string) string { return filepath.Join(state, "sandboxes") }
func ipamDir(state string) string    { return filepath.Join(state, "ipam") }
