package node

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// securityConfig merges the pod's and the container's security contexts as
// Kubernetes does (the container's fields win) into the runtime's terms.
func securityConfig(spec *corev1.PodSpec, c *corev1.Container) SecurityConfig {
	var out SecurityConfig
	if ps := spec.SecurityContext; ps != nil {
		out.RunAsUser, out.RunAsGroup = ps.RunAsUser, ps.RunAsGroup
		out.RunAsNonRoot = ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		if ps.FSGroup != nil {
			out.SupplementalGroups = append(out.SupplementalGroups, *ps.FSGroup)
		}
		out.SupplementalGroups = append(out.SupplementalGroups, ps.SupplementalGroups...)
		out.SeccompRuntimeDefault = ps.SeccompProfile != nil && ps.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	}
	sc := c.SecurityContext
	if sc == nil {
		return out
	}
	if sc.RunAsUser != nil {
		out.RunAsUser = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		out.RunAsGroup = sc.RunAsGroup
	}
	if sc.RunAsNonRoot != nil {
		out.RunAsNonRoot = *sc.RunAsNonRoot
	}
	if sc.SeccompProfile != nil {
		out.SeccompRuntimeDefault = sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	}
	out.ReadOnlyRootFS = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	out.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	out.Privileged = sc.Privileged != nil && *sc.Privileged
	if caps := sc.Capabilities; caps != nil {
		out.CapAdd, out.CapDrop = capNames(caps.Add), capNames(caps.Drop)
	}
	return out
}

// capNames turns securityContext capability names (NET_ADMIN, CAP_NET_ADMIN, ALL)
// into the OCI spec's (CAP_NET_ADMIN, ALL).
func capNames(in []corev1.Capability) []string {
	out := make([]string, 0, len(in))
	for _, c := range in {
		n := strings.ToUpper(string(c))
		if n != "ALL" && !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		out = append(out, n)
	}
	return out
}

// securityRefusal is why this node's operator policy refuses container c, or "".
// Privileged containers need --allow-privileged; added capabilities must each be in
// --allow-capabilities (or it holds ALL), since an added capability is a step towards
// privileged.
func securityRefusal(c *corev1.Container, allowPrivileged bool, allowedCaps []string) (reason, message string) {
	sc := c.SecurityContext
	if sc == nil {
		return "", ""
	}
	if sc.Privileged != nil && *sc.Privileged && !allowPrivileged {
		return "PrivilegedNotAllowed", fmt.Sprintf("container %q: privileged containers are not allowed on this node", c.Name)
	}
	if sc.Capabilities == nil || (sc.Privileged != nil && *sc.Privileged) {
		return "", ""
	}
	allowed := capNames(toCaps(allowedCaps))
	for _, cp := range capNames(sc.Capabilities.Add) {
		if !slices.Contains(allowed, "ALL") && !slices.Contains(allowed, cp) {
			return "CapabilityNotAllowed", fmt.Sprintf("container %q: capability %s is not allowed on this node (agent --allow-capabilities: %s)",
				c.Name, cp, strings.Join(orNone(allowedCaps), ","))
		}
	}
	return "", ""
}

func toCaps(names []string) []corev1.Capability {
	out := make([]corev1.Capability, len(names))
	for i, n := range names {
		out[i] = corev1.Capability(n)
	}
	return out
}

func orNone(v []string) []string {
	if len(v) == 0 {
		return []string{"none"}
	}
	return v
}
