package api

import (
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Support says what Keelson does with a manifest field.
type Support int

const (
	// Honored fields change what Keelson does.
	Honored Support = iota + 1
	// Ignored fields are accepted and have no effect, because ignoring them cannot
	// surprise anyone (the reason is in FieldRule.Note).
	Ignored
	// IgnoredIfEmpty fields are accepted only when empty ({} or []): tools emit them
	// empty, and an empty value means "the defaults", which is what Keelson does.
	IgnoredIfEmpty
)

func (s Support) String() string {
	switch s {
	case Honored:
		return "honored"
	case Ignored:
		return "ignored"
	case IgnoredIfEmpty:
		return "ignored when empty"
	}
	return "unknown"
}

// FieldRule is one row of the supported-fields table. A manifest field that is set and
// is not covered by a rule is an error: Keelson never silently drops what it does not
// implement.
type FieldRule struct {
	// Path is relative to the object: "[*]" stands for every list item and "[key]" for
	// one map key (e.g. "spec.containers[*].resources.requests[cpu]"). A rule covers
	// everything below its path (metadata.labels covers every label).
	Path    string
	Support Support
	// Values, when not nil, are the only accepted values of a scalar field.
	Values []string
	Note   string
}

// KindFields is the table of one kind.
type KindFields struct {
	Kind  string
	Rules []FieldRule
}

// SupportedFields returns the supported-fields table, one section per kind. The
// returned slices are fresh copies: callers may not change Keelson's table.
func SupportedFields() []KindFields {
	podSpec := podSpecRules()
	pod := append(commonRules(), prefixRules("spec.", podSpec)...)
	pod = append(pod, FieldRule{Path: "status", Support: Ignored, Note: statusNote})

	svc := append(commonRules(), serviceRules()...)
	svc = append(svc, FieldRule{Path: "status", Support: Ignored, Note: statusNote})

	rc := append(commonRules(),
		FieldRule{Path: "spec.replicas", Support: Honored, Note: "default 1"},
		FieldRule{Path: "spec.selector", Support: Honored, Note: "default: the template's labels"},
		FieldRule{Path: "spec.template.metadata.labels", Support: Honored},
		FieldRule{Path: "spec.template.metadata.annotations", Support: Honored},
		FieldRule{Path: "spec.template.metadata.name", Support: Ignored, Note: "pods are named after the controller, as in Kubernetes"},
		FieldRule{Path: "spec.template.metadata.creationTimestamp", Support: Ignored, Note: serverNote},
	)
	rc = append(rc, prefixRules("spec.template.spec.", podSpec)...)
	rc = append(rc, FieldRule{Path: "status", Support: Ignored, Note: statusNote})

	return []KindFields{
		{Kind: "Pod", Rules: pod},
		{Kind: "Service", Rules: svc},
		{Kind: "ReplicationController", Rules: rc},
	}
}

const (
	serverNote = "written by a Kubernetes API server; meaningless in Git"
	statusNote = "observed state: Keelson reports its own"
)

func commonRules() []FieldRule {
	rules := []FieldRule{
		{Path: "apiVersion", Support: Honored, Values: []string{"v1"}},
		{Path: "kind", Support: Honored},
		{Path: "metadata.name", Support: Honored},
		{Path: "metadata.namespace", Support: Honored, Note: "default \"default\""},
		{Path: "metadata.labels", Support: Honored},
		{Path: "metadata.annotations", Support: Honored},
	}
	for _, f := range []string{"creationTimestamp", "uid", "resourceVersion", "generation", "selfLink", "managedFields"} {
		rules = append(rules, FieldRule{Path: "metadata." + f, Support: Ignored, Note: serverNote})
	}
	return rules
}

func podSpecRules() []FieldRule {
	c := "containers[*]."
	rules := []FieldRule{
		{Path: c + "name", Support: Honored},
		{Path: c + "image", Support: Honored},
		{Path: c + "command", Support: Honored},
		{Path: c + "args", Support: Honored},
		{Path: c + "workingDir", Support: Honored},
		{Path: c + "env[*].name", Support: Honored},
		{Path: c + "env[*].value", Support: Honored, Note: "valueFrom is not supported"},
		{Path: c + "ports[*].name", Support: Honored},
		{Path: c + "ports[*].containerPort", Support: Honored},
		{Path: c + "ports[*].protocol", Support: Honored, Values: []string{"TCP", "UDP"}, Note: "default TCP"},
		{Path: c + "ports[*].hostPort", Support: Honored},
		{Path: c + "volumeMounts[*].name", Support: Honored},
		{Path: c + "volumeMounts[*].mountPath", Support: Honored},
		{Path: c + "volumeMounts[*].readOnly", Support: Honored},
		{Path: c + "resources.requests[cpu]", Support: Honored},
		{Path: c + "resources.requests[memory]", Support: Honored},
		{Path: c + "resources.limits[cpu]", Support: Honored},
		{Path: c + "resources.limits[memory]", Support: Honored},
		{Path: c + "imagePullPolicy", Support: Honored, Note: "default: Always for :latest or no tag, else IfNotPresent"},
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		p := c + probe + "."
		rules = append(rules,
			FieldRule{Path: p + "httpGet.path", Support: Honored, Note: "default /"},
			FieldRule{Path: p + "httpGet.port", Support: Honored},
			FieldRule{Path: p + "httpGet.scheme", Support: Honored, Values: []string{"HTTP"}},
			FieldRule{Path: p + "tcpSocket.port", Support: Honored},
			FieldRule{Path: p + "exec.command", Support: Honored},
			FieldRule{Path: p + "initialDelaySeconds", Support: Honored},
			FieldRule{Path: p + "periodSeconds", Support: Honored, Note: "default 10"},
			FieldRule{Path: p + "timeoutSeconds", Support: Honored, Note: "default 1"},
			FieldRule{Path: p + "successThreshold", Support: Honored, Note: "default 1"},
			FieldRule{Path: p + "failureThreshold", Support: Honored, Note: "default 3"},
		)
	}
	return append(append(rules, dnsRules()...),
		FieldRule{Path: c + "terminationMessagePath", Support: Ignored, Note: "Keelson does not collect termination messages"},
		FieldRule{Path: c + "terminationMessagePolicy", Support: Ignored, Note: "Keelson does not collect termination messages"},
		FieldRule{Path: c + "securityContext", Support: IgnoredIfEmpty},
		FieldRule{Path: "volumes[*].name", Support: Honored},
		FieldRule{Path: "volumes[*].emptyDir.medium", Support: Honored, Values: []string{""}, Note: "node disk only; Memory is not supported"},
		FieldRule{Path: "volumes[*].emptyDir.sizeLimit", Support: Ignored, Note: "not enforced: the volume is a directory on the node's disk"},
		FieldRule{Path: "volumes[*].hostPath.path", Support: Honored, Note: "refused unless the operator allows hostPath"},
		FieldRule{Path: "volumes[*].hostPath.type", Support: Honored},
		FieldRule{Path: "restartPolicy", Support: Honored, Note: "default Always"},
		FieldRule{Path: "terminationGracePeriodSeconds", Support: Honored, Note: "default 30"},
		FieldRule{Path: "nodeSelector", Support: Honored},
		FieldRule{Path: "schedulerName", Support: Ignored, Values: []string{"default-scheduler"}, Note: "Keelson has one scheduler"},
		FieldRule{Path: "securityContext", Support: IgnoredIfEmpty},
	)
}

func serviceRules() []FieldRule {
	return []FieldRule{
		{Path: "spec.selector", Support: Honored},
		{Path: "spec.ports[*].name", Support: Honored},
		{Path: "spec.ports[*].port", Support: Honored},
		{Path: "spec.ports[*].targetPort", Support: Honored, Note: "number or container port name; default: port"},
		{Path: "spec.ports[*].nodePort", Support: Honored, Note: "30000-32767; allocated when not set"},
		{Path: "spec.ports[*].protocol", Support: Honored, Values: []string{"TCP", "UDP"}, Note: "default TCP"},
		{Path: "spec.type", Support: Honored, Values: []string{"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"}, Note: "default ClusterIP; LoadBalancer behaves as NodePort"},
		{Path: "spec.externalName", Support: Honored},
		{Path: "spec.clusterIP", Support: Honored, Note: "allocated when not set; None makes a headless Service"},
		{Path: "spec.sessionAffinity", Support: Honored, Note: "default None"},
		{Path: "spec.sessionAffinityConfig.clientIP.timeoutSeconds", Support: Honored, Note: "default 10800"},
		{Path: "spec.ipFamilies[*]", Support: Ignored, Values: []string{"IPv4"}, Note: "Keelson is IPv4 only"},
		{Path: "spec.ipFamilyPolicy", Support: Ignored, Values: []string{"SingleStack"}, Note: "Keelson is IPv4 only"},
		{Path: "spec.internalTrafficPolicy", Support: Ignored, Values: []string{"Cluster"}, Note: "Keelson forwards to endpoints on every node"},
		{Path: "spec.externalTrafficPolicy", Support: Ignored, Values: []string{"Cluster"}, Note: "Keelson forwards to endpoints on every node"},
	}
}

func prefixRules(prefix string, rules []FieldRule) []FieldRule {
	out := make([]FieldRule, len(rules))
	for i, r := range rules {
		r.Path = prefix + r.Path
		out[i] = r
	}
	return out
}

// fieldIndex is the table as lookup maps. It is computed once and never changed.
type fieldIndex struct {
	rules map[string]map[string]FieldRule // kind -> path -> rule
	tree  map[string]map[string]bool      // kind -> every prefix of every rule path
}

var supportIndex = sync.OnceValue(func() *fieldIndex {
	ix := &fieldIndex{rules: map[string]map[string]FieldRule{}, tree: map[string]map[string]bool{}}
	for _, k := range SupportedFields() {
		rules, tree := map[string]FieldRule{}, map[string]bool{}
		for _, r := range k.Rules {
			rules[r.Path] = r
			for _, p := range pathPrefixes(r.Path) {
				tree[p] = true
			}
		}
		ix.rules[k.Kind], ix.tree[k.Kind] = rules, tree
	}
	return ix
})

// setField is a field that a manifest sets: a non-null scalar, or an empty map or list
// (whose presence can matter, as in `emptyDir: {}`).
type setField struct {
	path  string // with real indices, for the error
	norm  string // with [*] for list indices, for the table
	pos   Position
	value string // the scalar's text
	empty bool   // an empty map or list
}

// checkSupport returns the message for a set field Keelson does not honor, or "".
func (ix *fieldIndex) checkSupport(kind string, f setField) string {
	prefixes := pathPrefixes(f.norm)
	for i := len(prefixes) - 1; i >= 0; i-- {
		r, ok := ix.rules[kind][prefixes[i]]
		if !ok {
			continue
		}
		exact := i == len(prefixes)-1
		switch {
		case r.Support == IgnoredIfEmpty && !(exact && f.empty):
			return notSupported
		case exact && r.Values != nil && !f.empty && !slices.Contains(r.Values, f.value):
			return "value " + quote(f.value) + " is not supported by Keelson (supported: " + strings.Join(quoteAll(r.Values), ", ") + "; see docs/fields.md)"
		}
		return ""
	}
	if f.empty && ix.tree[kind][f.norm] {
		return "" // an empty map on the way to supported fields, e.g. resources: {}
	}
	return notSupported
}

const notSupported = "not supported by Keelson (see docs/fields.md)"

// pathPrefixes returns every prefix of a field path that ends at a segment boundary,
// shortest first: "a.b[*].c" gives "a", "a.b", "a.b[*]", "a.b[*].c".
func pathPrefixes(p string) []string {
	var out []string
	depth := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '[':
			if depth == 0 && i > 0 {
				out = append(out, p[:i])
			}
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				out = append(out, p[:i])
			}
		}
	}
	return append(out, p)
}

func quoteAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = quote(v)
	}
	return out
}

func quote(s string) string { return strconv.Quote(s) }
