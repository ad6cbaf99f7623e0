package api

import (
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// capabilityName is a Linux capability as securityContext names it: NET_ADMIN or
// CAP_NET_ADMIN, or ALL.
var capabilityName = regexp.MustCompile(`^(CAP_)?[A-Z][A-Z0-9_]*$`)

func validatePodSecurity(c *checker, p *field.Path, sc *corev1.PodSecurityContext) {
	if sc == nil {
		return
	}
	validateIDs(c, p, sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot)
	if sc.FSGroup != nil {
		c.nonNegative(p.Child("fsGroup"), *sc.FSGroup)
	}
	for i, g := range sc.SupplementalGroups {
		c.nonNegative(p.Child("supplementalGroups").Index(i), g)
	}
}

func validateContainerSecurity(c *checker, p *field.Path, sc *corev1.SecurityContext) {
	if sc == nil {
		return
	}
	validateIDs(c, p, sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot)
	if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		c.errorf(p.Child("allowPrivilegeEscalation"), "cannot set allowPrivilegeEscalation to false and privileged to true")
	}
	if caps := sc.Capabilities; caps != nil {
		for _, list := range []struct {
			name string
			caps []corev1.Capability
		}{{"add", caps.Add}, {"drop", caps.Drop}} {
			for i, cp := range list.caps {
				if !capabilityName.MatchString(string(cp)) {
					c.errorf(p.Child("capabilities", list.name).Index(i), "invalid value %q: a capability name such as NET_BIND_SERVICE, CAP_CHOWN or ALL", cp)
				}
			}
		}
	}
}

func validateIDs(c *checker, p *field.Path, user, group *int64, nonRoot *bool) {
	if user != nil {
		c.nonNegative(p.Child("runAsUser"), *user)
		if nonRoot != nil && *nonRoot && *user == 0 {
			c.errorf(p.Child("runAsNonRoot"), "runAsNonRoot is true but runAsUser is 0 (root)")
		}
	}
	if group != nil {
		c.nonNegative(p.Child("runAsGroup"), *group)
	}
}
