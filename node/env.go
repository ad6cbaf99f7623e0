package node

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// containerEnv builds a container's environment the Kubernetes way: first the
// variables of every Service of the pod's namespace that has a ClusterIP (so programs
// written for Kubernetes find their dependencies), then the container's own env, which
// may refer to earlier variables as $(NAME), or come from the downward API (valueFrom,
// never expanded, as in Kubernetes). Services are the ones the node knows when the
// container is created.
func containerEnv(c *corev1.Container, facts podFacts, services []api.ServiceRecord) ([]string, error) {
	namespace := facts.pod.Namespace
	var names []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			names = append(names, k)
		}
		vals[k] = v
	}
	// enableServiceLinks: false (Kubernetes 1.13+) turns the service variables off.
	if links := facts.pod.Spec.EnableServiceLinks; links == nil || *links {
		for _, kv := range serviceEnv(namespace, services) {
			set(kv[0], kv[1])
		}
	}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	for _, e := range c.Env {
		switch src := e.ValueFrom; {
		case src == nil:
			set(e.Name, expandVars(e.Value, lookup))
		case src.FieldRef != nil:
			v, err := facts.fieldValue(src.FieldRef.FieldPath)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			set(e.Name, v)
		case src.ResourceFieldRef != nil:
			v, err := facts.resourceValue(src.ResourceFieldRef, c.Name)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			set(e.Name, v)
		default:
			return nil, fmt.Errorf("env %s: only fieldRef and resourceFieldRef sources are supported", e.Name)
		}
	}
	out := make([]string, len(names))
	for i, k := range names {
		out[i] = k + "=" + vals[k]
	}
	return out, nil
}

// serviceEnv returns {SVC}_SERVICE_HOST, {SVC}_SERVICE_PORT, {SVC}_SERVICE_PORT_{PORT}
// and the Docker-link style {SVC}_PORT* variables, sorted by service name.
func serviceEnv(namespace string, services []api.ServiceRecord) [][2]string {
	var svcs []api.ServiceRecord
	for _, s := range services {
		ip := s.Spec.ClusterIP
		if s.Namespace == namespace && ip != "" && ip != corev1.ClusterIPNone && len(s.Spec.Ports) > 0 {
			svcs = append(svcs, s)
		}
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	var out [][2]string
	for _, s := range svcs {
		prefix := envName(s.Name)
		ip := s.Spec.ClusterIP
		first := s.Spec.Ports[0]
		out = append(out,
			[2]string{prefix + "_SERVICE_HOST", ip},
			[2]string{prefix + "_SERVICE_PORT", strconv.Itoa(int(first.Port))})
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				out = append(out, [2]string{prefix + "_SERVICE_PORT_" + envName(p.Name), strconv.Itoa(int(p.Port))})
			}
		}
		out = append(out, [2]string{prefix + "_PORT", linkURL(first, ip)})
		for _, p := range s.Spec.Ports {
			proto := strings.ToUpper(protocolOf(p))
			base := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, proto)
			out = append(out,
				[2]string{base, linkURL(p, ip)},
				[2]string{base + "_PROTO", strings.ToLower(proto)},
				[2]string{base + "_PORT", strconv.Itoa(int(p.Port))},
				[2]string{base + "_ADDR", ip})
		}
	}
	return out
}

func protocolOf(p corev1.ServicePort) string {
	if p.Protocol == "" {
		return "tcp"
	}
	return strings.ToLower(string(p.Protocol))
}

func linkURL(p corev1.ServicePort, ip string) string {
	return fmt.Sprintf("%s://%s:%d", protocolOf(p), ip, p.Port)
}

// envName turns "my-svc" into "MY_SVC".
func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}

func envLookup(env []string) func(string) (string, bool) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func expandAll(in []string, lookup func(string) (string, bool)) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expandVars(s, lookup)
	}
	return out
}

// expandVars replaces $(NAME) with the variable's value as Kubernetes does: an
// undefined reference stays as written, and $$ is a literal $.
func expandVars(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			ref := s[i : i+3+end]
			if v, ok := lookup(s[i+2 : i+2+end]); ok {
				b.WriteString(v)
			} else {
				b.WriteString(ref)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
