package node

import (
	"context"
	"errors"
	"io"
	"time"
)

// Runtime is what the agent needs from a container runtime. It is shaped like the
// kubelet's CRI split (a pod sandbox owning the network namespace, containers joining
// it) so that the worker state machine can be tested against an in-memory fake and run
// for real against containerd. Every object carries the pod UID in its labels so an
// agent that restarts can find what it already runs (ListSandboxes/ListContainers).
//
// Implementations must be safe for concurrent use by many pod workers and idempotent
// where noted: the agent retries after crashes and cannot know what half-happened.
type Runtime interface {
	// EnsureImage makes the image available locally according to the pull policy
	// ("Always", "IfNotPresent", "Never") and returns its resolved reference/digest.
	EnsureImage(ctx context.Context, ref string, policy string) (string, error)

	// CreateSandbox creates (or returns the existing) network namespace of a pod, wired
	// by CNI, and returns its IP. Idempotent per PodUID.
	CreateSandbox(ctx context.Context, cfg SandboxConfig) (Sandbox, error)
	// RemoveSandbox releases the pod's network (CNI DEL, even when the netns is already
	// gone, so host-local never leaks an address) and deletes the namespace. Idempotent.
	RemoveSandbox(ctx context.Context, podUID string) error
	// ListSandboxes lists the sandboxes this runtime holds (for adoption after restart).
	ListSandboxes(ctx context.Context) ([]Sandbox, error)
	// SandboxHealthy is a cheap check (a few stat and netlink calls, no CNI) that the
	// pod's network still exists as CreateSandbox made it: the namespace is mounted,
	// the pod's interface and its host-side peer exist and the peer is on the bridge.
	// ok false comes with why in words for the log and the pod's status; a sandbox the
	// runtime does not know is not ok. err is for a check that could not be made: the
	// caller must not treat it as broken. The pod worker calls it on its periodic sync
	// and, when not ok, kills the pod's containers, removes the sandbox and makes both
	// again (the kubelet's SandboxChanged).
	SandboxHealthy(ctx context.Context, podUID string) (ok bool, why string, err error)

	// CreateContainer creates a container in the pod's sandbox (not started). The ID is
	// deterministic per (pod UID, container name, attempt) so a retry finds it.
	CreateContainer(ctx context.Context, cfg ContainerConfig) (string, error)
	// StartContainer starts a created container.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends SIGTERM, waits up to grace, then SIGKILL. Idempotent: stopping
	// a stopped or missing container is not an error.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer deletes a stopped container and its resources. Idempotent.
	RemoveContainer(ctx context.Context, id string) error
	// ContainerStatus reports the state of one container; ErrNotFound if unknown.
	ContainerStatus(ctx context.Context, id string) (ContainerInfo, error)
	// ListContainers lists the containers this runtime holds (for adoption).
	ListContainers(ctx context.Context) ([]ContainerInfo, error)
	// Exec runs a command inside a running container (exec probes) and returns its exit
	// code; output is discarded beyond a small limit.
	Exec(ctx context.Context, id string, cmd []string) (int, error)
	// Logs streams the container's log file (stdout and stderr interleaved, one line per
	// write) to w; with follow it keeps streaming until ctx ends.
	Logs(ctx context.Context, id string, w io.Writer, opts LogOptions) error
}

// ErrNotFound is returned for a container or sandbox the runtime does not know.
var ErrNotFound = errors.New("not found")

// SandboxConfig describes a pod's network namespace.
type SandboxConfig struct {
	PodUID    string
	Namespace string
	Name      string
	// PodCIDR is the node's pod CIDR; the CNI host-local range.
	PodCIDR string
	// HostPorts are container ports with hostPort set (portmap plugin).
	HostPorts []PortMapping
}

// PortMapping maps a host port to a container port.
type PortMapping struct {
	HostPort      int32
	ContainerPort int32
	Protocol      string // "tcp" or "udp"
}

// Sandbox is a live pod network namespace.
type Sandbox struct {
	PodUID    string
	Namespace string
	Name      string
	IP        string
	NetNSPath string
	CreatedAt time.Time
}

// ContainerConfig is one container to create inside a sandbox.
type ContainerConfig struct {
	PodUID        string
	PodNamespace  string
	PodName       string
	Name          string // container name in the pod spec
	Attempt       int32  // restart count; part of the deterministic ID
	Image         string // resolved reference from EnsureImage
	Command       []string
	Args          []string
	Env           []string // KEY=VALUE
	WorkingDir    string
	NetNSPath     string
	Hostname      string // the pod's hostname (default PodName)
	Mounts        []Mount
	MilliCPULimit int64 // 0 = unlimited
	MemoryLimit   int64 // bytes, 0 = unlimited
	// LogPath is the file the runtime appends the container's stdout/stderr to.
	LogPath string
	// Security is the container's effective security context (the pod's merged with
	// the container's), which the runtime maps to the OCI spec.
	Security SecurityConfig
}

// SecurityConfig is a container's security context in runtime terms.
type SecurityConfig struct {
	RunAsUser  *int64 // nil: the image's user
	RunAsGroup *int64 // nil: the user's primary group in the image (or 0)
	// RunAsNonRoot refuses to create a container whose effective user is root
	// (ErrContainerConfig).
	RunAsNonRoot       bool
	SupplementalGroups []int64 // fsGroup and supplementalGroups
	ReadOnlyRootFS     bool
	NoNewPrivileges    bool
	Privileged         bool
	// CapAdd and CapDrop are capability names with the CAP_ prefix, or "ALL".
	CapAdd, CapDrop []string
	// SeccompRuntimeDefault applies the runtime's default seccomp profile; otherwise
	// the container is unconfined (Kubernetes' default).
	SeccompRuntimeDefault bool
}

// ErrContainerConfig marks a container the runtime refuses to create because of its
// configuration (Kubernetes' CreateContainerConfigError), e.g. runAsNonRoot with an
// image that runs as root. Retrying does not help until the spec or image changes.
var ErrContainerConfig = errors.New("container configuration refused")

// Mount binds a host directory into a container.
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
}

// ContainerInfo is the observed state of a container.
type ContainerInfo struct {
	ID         string
	PodUID     string
	Name       string // container name in the pod spec
	Attempt    int32
	Image      string
	State      string // "created", "running", "exited", "unknown"
	ExitCode   int32  // 128+signal when killed by a signal
	StartedAt  time.Time
	FinishedAt time.Time
	LogPath    string
}

// LogOptions selects what Logs streams.
type LogOptions struct {
	Follow bool
	Tail   int // last N lines; 0 = all
}
