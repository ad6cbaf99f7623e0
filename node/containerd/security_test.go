package containerd

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/keelson/keelson/node"
)

func baseSpec() *oci.Spec {
	caps := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &oci.Spec{Process: &specs.Process{User: specs.User{UID: 0}, Capabilities: &specs.LinuxCapabilities{
		Bounding: slices.Clone(caps), Effective: slices.Clone(caps), Permitted: slices.Clone(caps), Inheritable: slices.Clone(caps)}}}
}

func applySecurity(t *testing.T, sc node.SecurityConfig) (*oci.Spec, error) {
	t.Helper()
	s := baseSpec()
	var err error
	for _, o := range securityOpts(sc) {
		if err = o(context.Background(), nil, &containers.Container{}, s); err != nil {
			break
		}
	}
	return s, err
}

// The security context reaches the OCI spec; drop ALL really drops everything
// (containerd's WithDroppedCapabilities alone ignores "ALL").
func TestSecurityOpts(t *testing.T) {
	uid, gid := int64(1000), int64(3000)
	s, err := applySecurity(t, node.SecurityConfig{RunAsUser: &uid, RunAsGroup: &gid, SupplementalGroups: []int64{2000},
		ReadOnlyRootFS: true, NoNewPrivileges: true, CapDrop: []string{"ALL"}, CapAdd: []string{"CAP_NET_BIND_SERVICE"}})
	if err != nil {
		t.Fatal(err)
	}
	u := s.Process.User
	if u.UID != 1000 || u.GID != 3000 || !slices.Contains(u.AdditionalGids, 2000) {
		t.Errorf("user %+v", u)
	}
	if !s.Process.NoNewPrivileges || s.Root == nil || !s.Root.Readonly {
		t.Errorf("no_new_privs %v, root %+v", s.Process.NoNewPrivileges, s.Root)
	}
	c := s.Process.Capabilities
	if !slices.Equal(c.Effective, []string{"CAP_NET_BIND_SERVICE"}) || !slices.Equal(c.Bounding, []string{"CAP_NET_BIND_SERVICE"}) || len(c.Inheritable) != 0 {
		t.Errorf("capabilities after drop ALL, add NET_BIND_SERVICE: %+v", c)
	}

	s, _ = applySecurity(t, node.SecurityConfig{CapDrop: []string{"CAP_KILL"}})
	if slices.Contains(s.Process.Capabilities.Effective, "CAP_KILL") || !slices.Contains(s.Process.Capabilities.Effective, "CAP_CHOWN") {
		t.Errorf("drop CAP_KILL: %+v", s.Process.Capabilities)
	}

	if _, err := applySecurity(t, node.SecurityConfig{RunAsNonRoot: true}); !errors.Is(err, node.ErrContainerConfig) {
		t.Errorf("runAsNonRoot as root: %v, want ErrContainerConfig", err)
	}
	if _, err := applySecurity(t, node.SecurityConfig{RunAsNonRoot: true, RunAsUser: &uid, RunAsGroup: &gid}); err != nil {
		t.Errorf("runAsNonRoot as 1000: %v", err)
	}
}

func TestSeccompRuntimeDefault(t *testing.T) {
	for _, tc := range []struct {
		sc   node.SecurityConfig
		want bool
	}{{node.SecurityConfig{SeccompRuntimeDefault: true}, true}, {node.SecurityConfig{}, false},
		{node.SecurityConfig{SeccompRuntimeDefault: true, Privileged: true}, false}} {
		s := baseSpec()
		s.Linux = &specs.Linux{}
		for _, o := range securityOpts(tc.sc) {
			if err := o(context.Background(), nil, &containers.Container{}, s); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.Linux.Seccomp != nil && len(s.Linux.Seccomp.Syscalls) > 0; got != tc.want {
			t.Errorf("%+v: seccomp profile set %v, want %v", tc.sc, got, tc.want)
		}
	}
}
