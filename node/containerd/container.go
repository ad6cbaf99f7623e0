package containerd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/oci"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/keelson/keelson/node"
)

// Labels on every container: they are how a restarted agent finds its containers
// (ListContainers) and how a container's exit survives the loss of its task.
const (
	labelPodUID        = "io.keelson.pod.uid"
	labelPodNamespace  = "io.keelson.pod.namespace"
	labelPodName       = "io.keelson.pod.name"
	labelContainerName = "io.keelson.container.name"
	labelAttempt       = "io.keelson.container.attempt"
	labelLogPath       = "io.keelson.container.log-path"
	labelStartedAt     = "io.keelson.container.started-at"
	labelFinishedAt    = "io.keelson.container.finished-at"
	labelExitCode      = "io.keelson.container.exit-code"
)

// runcRuntime is the shim every container runs under.
const runcRuntime = "io.containerd.runc.v2"

// cfsPeriod is the CFS period cpu limits are expressed against (the kernel default).
const cfsPeriod = 100000

// CreateContainer creates (not starts) a container from an image made present by
// EnsureImage, in the pod's network namespace. Retrying with the same pod UID, name
// and attempt returns the container the first call made.
func (r *Runtime) CreateContainer(ctx context.Context, cfg node.ContainerConfig) (string, error) {
	if cfg.PodUID == "" || cfg.Name == "" {
		return "", errors.New("create container: pod UID and name are required")
	}
	id := containerID(cfg.PodUID, cfg.Name, cfg.Attempt)
	ctx = r.ctx(ctx)
	defer r.locks.lock("container/" + id)()

	if _, err := r.client.LoadContainer(ctx, id); err == nil {
		return id, nil
	} else if !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("create container %s: %w", id, err)
	}
	netns := cfg.NetNSPath
	if netns == "" {
		rec, err := r.readRecord(sandboxID(cfg.PodUID))
		if err != nil {
			return "", fmt.Errorf("create container %s: no sandbox for pod %s: %w", id, cfg.PodUID, err)
		}
		netns = rec.NetNSPath
	}
	img, err := r.client.GetImage(ctx, cfg.Image)
	if err != nil {
		return "", fmt.Errorf("create container %s: image %s (EnsureImage first): %w", id, cfg.Image, err)
	}
	imgSpec, err := img.Spec(ctx)
	if err != nil {
		return "", fmt.Errorf("create container %s: image config: %w", id, err)
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		withArgs(imgSpec.Config.Entrypoint, imgSpec.Config.Cmd, cfg.Command, cfg.Args),
		oci.WithEnv(cfg.Env),
		oci.WithHostname(cmp.Or(cfg.Hostname, cfg.PodName)),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netns}),
		oci.WithMounts(bindMounts(cfg.Mounts)),
	}
	opts = append(opts, securityOpts(cfg.Security)...)
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	if cfg.MilliCPULimit > 0 {
		opts = append(opts, oci.WithCPUCFS(cfg.MilliCPULimit*cfsPeriod/1000, cfsPeriod))
	}
	if cfg.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(cfg.MemoryLimit)))
	}
	labels := map[string]string{
		labelPodUID:        cfg.PodUID,
		labelPodNamespace:  cfg.PodNamespace,
		labelPodName:       cfg.PodName,
		labelContainerName: cfg.Name,
		labelAttempt:       strconv.Itoa(int(cfg.Attempt)),
		labelLogPath:       cfg.LogPath,
	}
	// A snapshot without a container is the leftover of an attempt that died in
	// between; it would make WithNewSnapshot fail forever.
	if err := r.client.SnapshotService(snapshotter).Remove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("create container %s: remove stale snapshot: %w", id, err)
	}
	_, err = r.client.NewContainer(ctx, id,
		ctrd.WithImageName(img.Name()),
		ctrd.WithSnapshotter(snapshotter),
		ctrd.WithNewSnapshot(id, img),
		ctrd.WithRuntime(runcRuntime, nil),
		ctrd.WithNewSpec(opts...),
		ctrd.WithContainerLabels(labels),
	)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", id, err)
	}
	if cfg.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o755); err != nil {
			return "", fmt.Errorf("create container %s: log directory: %w", id, err)
		}
	}
	return id, nil
}

// withArgs sets the process arguments the Kubernetes way: command replaces the image's
// ENTRYPOINT (and drops its CMD), args replace its CMD.
func withArgs(entrypoint, cmd, command, args []string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		var argv []string
		switch {
		case len(command) > 0:
			argv = append(append(argv, command...), args...)
		case len(args) > 0:
			argv = append(append(argv, entrypoint...), args...)
		default:
			argv = append(append(argv, entrypoint...), cmd...)
		}
		if len(argv) == 0 {
			return errors.New("no command: the image has no ENTRYPOINT or CMD and the container sets none")
		}
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.Args = argv
		return nil
	}
}

// bindMounts turns pod volumes into recursive bind mounts.
func bindMounts(ms []node.Mount) []specs.Mount {
	var out []specs.Mount
	for _, m := range ms {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		out = append(out, specs.Mount{
			Destination: m.ContainerPath,
			Type:        "bind",
			Source:      m.HostPath,
			Options:     []string{"rbind", "rprivate", mode},
		})
	}
	return out
}
