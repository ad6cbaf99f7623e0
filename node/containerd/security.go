package containerd

import (
	"context"
	"fmt"
	"slices"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/oci"

	"github.com/keelson/keelson/node"
)

// securityOpts maps a container's security context to OCI spec options. They run
// after the image config, so the pod's user overrides the image's USER; the non-root
// check runs last, on the user the container would really get.
func securityOpts(sc node.SecurityConfig) []oci.SpecOpts {
	var opts []oci.SpecOpts
	switch {
	case sc.RunAsUser != nil && sc.RunAsGroup != nil:
		opts = append(opts, oci.WithUIDGID(uint32(*sc.RunAsUser), uint32(*sc.RunAsGroup)))
	case sc.RunAsUser != nil:
		opts = append(opts, oci.WithUserID(uint32(*sc.RunAsUser))) // primary group from the image's /etc/passwd, else 0
	case sc.RunAsGroup != nil:
		opts = append(opts, withGID(uint32(*sc.RunAsGroup)))
	}
	if len(sc.SupplementalGroups) > 0 {
		opts = append(opts, withAdditionalGIDs(sc.SupplementalGroups))
	}
	if sc.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	} else {
		opts = append(opts, capabilityOpts(sc.CapAdd, sc.CapDrop)...)
	}
	if sc.ReadOnlyRootFS {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if sc.NoNewPrivileges {
		opts = append(opts, oci.WithNoNewPrivileges)
	}
	if sc.SeccompRuntimeDefault && !sc.Privileged {
		opts = append(opts, seccomp.WithDefaultProfile())
	}
	if sc.RunAsNonRoot {
		opts = append(opts, refuseRoot)
	}
	return opts
}

// capabilityOpts drops, then adds, as the kubelet does. containerd's
// WithDroppedCapabilities knows no "ALL" (it would silently drop nothing), so ALL
// clears every set here, and an added ALL grants every capability the kernel knows.
func capabilityOpts(add, drop []string) []oci.SpecOpts {
	var opts []oci.SpecOpts
	switch {
	case slices.Contains(drop, "ALL"):
		opts = append(opts, oci.WithCapabilities(nil))
	case len(drop) > 0:
		opts = append(opts, oci.WithDroppedCapabilities(drop))
	}
	switch {
	case slices.Contains(add, "ALL"):
		opts = append(opts, oci.WithAllKnownCapabilities)
	case len(add) > 0:
		opts = append(opts, oci.WithAddedCapabilities(add))
	}
	return opts
}

func withGID(gid uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.User.GID = gid
		return nil
	}
}

func withAdditionalGIDs(gids []int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		for _, g := range gids {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
		}
		return nil
	}
}

// refuseRoot is runAsNonRoot: the kubelet refuses to start a container whose user
// is 0, with CreateContainerConfigError.
func refuseRoot(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process.User.UID == 0 {
		return fmt.Errorf("%w: runAsNonRoot is set and the container would run as root (set runAsUser, or an image USER that is not 0)", node.ErrContainerConfig)
	}
	return nil
}
