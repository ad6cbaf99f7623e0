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
	rules := containerRules("containers[*].", true)
	rules = append(rules, containerRules("initContainers[*].", false)...)
	rules = append(rules,
		FieldRule{Path: "volumes[*].name", Support: Honored},
		FieldRule{Path: "volumes[*].emptyDir.medium", Support: Honored, Values: []string{""}, Note: "node disk only; Memory is not supported"},
		FieldRule{Path: "volumes[*].emptyDir.sizeLimit", Support: Ignored, Note: "not enforced: the volume is a directory on the node's disk"},
		FieldRule{Path: "volumes[*].hostPath.path", Support: Honored, Note: "refused unless the operator allows hostPath"},
		FieldRule{Path: "volumes[*].hostPath.type", Support: Honored},
		FieldRule{Path: "volumes[*].downwardAPI.defaultMode", Support: Honored, Note: "default 0644"},
		FieldRule{Path: "volumes[*].downwardAPI.items[*].path", Support: Honored},
		FieldRule{Path: "volumes[*].downwardAPI.items[*].mode", Support: Honored},
		FieldRule{Path: "volumes[*].downwardAPI.items[*].fieldRef.fieldPath", Support: Honored, Note: "metadata.name, .namespace, .uid, .labels, .annotations, .labels['k'], .annotations['k']; written when the pod starts"},
		FieldRule{Path: "volumes[*].downwardAPI.items[*].fieldRef.apiVersion", Support: Honored, Values: []string{"v1"}},
		FieldRule{Path: "volumes[*].downwardAPI.items[*].resourceFieldRef.containerName", Support: Honored},
		FieldRule{Path: "volumes[*].downwardAPI.items[*].resourceFieldRef.resource", Support: Honored, Values: downwardResources},
		FieldRule{Path: "volumes[*].downwardAPI.items[*].resourceFieldRef.divisor", Support: Honored, Note: "default 1"},
		FieldRule{Path: "restartPolicy", Support: Honored, Note: "default Always"},
		FieldRule{Path: "terminationGracePeriodSeconds", Support: Honored, Note: "default 30; preStop hooks run inside it"},
		FieldRule{Path: "nodeSelector", Support: Honored},
		FieldRule{Path: "nodeName", Support: Honored, Note: "the scheduler places the pod on that node or leaves it Pending"},
		FieldRule{Path: "tolerations[*].key", Support: Honored},
		FieldRule{Path: "tolerations[*].operator", Support: Honored, Values: []string{"Equal", "Exists"}, Note: "default Equal"},
		FieldRule{Path: "tolerations[*].value", Support: Honored},
		FieldRule{Path: "tolerations[*].effect", Support: Honored, Values: []string{"", "NoSchedule", "PreferNoSchedule", "NoExecute"}, Note: "empty matches every effect; PreferNoSchedule taints never block placement"},
		FieldRule{Path: "tolerations[*].tolerationSeconds", Support: Honored, Note: "NoExecute only: how long the pod stays on a newly tainted node"},
		FieldRule{Path: nodeAffinity + "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[*].matchExpressions[*].key", Support: Honored},
		FieldRule{Path: nodeAffinity + "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[*].matchExpressions[*].operator", Support: Honored, Values: []string{"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}},
		FieldRule{Path: nodeAffinity + "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[*].matchExpressions[*].values", Support: Honored},
		FieldRule{Path: nodeAffinity + "preferredDuringSchedulingIgnoredDuringExecution", Support: Ignored, Note: "a preference, not a rule: Keelson's scheduler spreads by load only"},
		FieldRule{Path: "securityContext.runAsUser", Support: Honored},
		FieldRule{Path: "securityContext.runAsGroup", Support: Honored},
		FieldRule{Path: "securityContext.runAsNonRoot", Support: Honored, Note: "a container whose user would be root is not started (CreateContainerConfigError)"},
		FieldRule{Path: "securityContext.fsGroup", Support: Honored, Note: "emptyDir and downwardAPI volumes are group-owned by it (setgid); a supplementary group of every container"},
		FieldRule{Path: "securityContext.supplementalGroups", Support: Honored},
		FieldRule{Path: "securityContext.seccompProfile.type", Support: Honored, Values: []string{"RuntimeDefault", "Unconfined"}, Note: "default Unconfined, as Kubernetes"},
		FieldRule{Path: "enableServiceLinks", Support: Honored, Note: "default true: {SVC}_SERVICE_HOST/_PORT variables"},
		FieldRule{Path: "serviceAccountName", Support: Ignored, Note: "Keelson has no service accounts and mounts no token; the name is visible through the downward API"},
		FieldRule{Path: "serviceAccount", Support: Ignored, Note: "deprecated alias of serviceAccountName"},
		FieldRule{Path: "automountServiceAccountToken", Support: Ignored, Note: "Keelson never mounts a service account token"},
		FieldRule{Path: "schedulerName", Support: Ignored, Values: []string{"default-scheduler"}, Note: "Keelson has one scheduler"},
	)
	return append(rules, dnsRules()...)
}

const nodeAffinity = "affinity.nodeAffinity."

// downwardResources are the resources a resourceFieldRef may name.
var downwardResources = []string{"limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}

// containerRules are the rules of one container list; app containers (not init
// containers, as in Kubernetes) may have probes and lifecycle hooks.
func containerRules(c string, app bool) []FieldRule {
	rules := []FieldRule{
		{Path: c + "name", Support: Honored},
		{Path: c + "image", Support: Honored},
		{Path: c + "command", Support: Honored, Note: "$(VAR) expands from env"},
		{Path: c + "args", Support: Honored, Note: "$(VAR) expands from env"},
		{Path: c + "workingDir", Support: Honored},
		{Path: c + "env[*].name", Support: Honored},
		{Path: c + "env[*].value", Support: Honored, Note: "$(VAR) expands from earlier variables"},
		{Path: c + "env[*].valueFrom.fieldRef.fieldPath", Support: Honored, Note: "metadata.name, .namespace, .uid, .labels['k'], .annotations['k'], spec.nodeName, spec.serviceAccountName, status.hostIP(s), status.podIP(s)"},
		{Path: c + "env[*].valueFrom.fieldRef.apiVersion", Support: Honored, Values: []string{"v1"}},
		{Path: c + "env[*].valueFrom.resourceFieldRef.containerName", Support: Honored, Note: "default: this container"},
		{Path: c + "env[*].valueFrom.resourceFieldRef.resource", Support: Honored, Values: downwardResources},
		{Path: c + "env[*].valueFrom.resourceFieldRef.divisor", Support: Honored, Note: "default 1; the value is rounded up"},
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
		{Path: c + "terminationMessagePath", Support: Ignored, Note: "Keelson does not collect termination messages"},
		{Path: c + "terminationMessagePolicy", Support: Ignored, Note: "Keelson does not collect termination messages"},
		{Path: c + "securityContext.runAsUser", Support: Honored, Note: "overrides the pod's"},
		{Path: c + "securityContext.runAsGroup", Support: Honored, Note: "overrides the pod's"},
		{Path: c + "securityContext.runAsNonRoot", Support: Honored, Note: "overrides the pod's"},
		{Path: c + "securityContext.readOnlyRootFilesystem", Support: Honored},
		{Path: c + "securityContext.allowPrivilegeEscalation", Support: Honored, Note: "false sets no_new_privs"},
		{Path: c + "securityContext.privileged", Support: Honored, Note: "refused unless the agent runs with --allow-privileged"},
		{Path: c + "securityContext.capabilities.drop", Support: Honored, Note: "ALL drops every capability"},
		{Path: c + "securityContext.capabilities.add", Support: Honored, Note: "refused unless the agent's --allow-capabilities lists them"},
		{Path: c + "securityContext.seccompProfile.type", Support: Honored, Values: []string{"RuntimeDefault", "Unconfined"}, Note: "overrides the pod's"},
	}
	if !app {
		return rules
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
		p := c + probe + "."
		rules = append(rules, handlerRules(p)...)
		rules = append(rules,
			FieldRule{Path: p + "tcpSocket.port", Support: Honored},
			FieldRule{Path: p + "grpc.port", Support: Honored, Note: "grpc.health.v1 Check, plaintext"},
			FieldRule{Path: p + "grpc.service", Support: Honored},
			FieldRule{Path: p + "initialDelaySeconds", Support: Honored},
			FieldRule{Path: p + "periodSeconds", Support: Honored, Note: "default 10"},
			FieldRule{Path: p + "timeoutSeconds", Support: Honored, Note: "default 1"},
			FieldRule{Path: p + "successThreshold", Support: Honored, Note: "default 1"},
			FieldRule{Path: p + "failureThreshold", Support: Honored, Note: "default 3"},
		)
	}
	for _, hook := range []string{"postStart", "preStop"} {
		rules = append(rules, handlerRules(c+"lifecycle."+hook+".")...)
	}
	return rules
}

// handlerRules are the exec and httpGet handler of a probe or lifecycle hook.
func handlerRules(p string) []FieldRule {
	return []FieldRule{
		{Path: p + "exec.command", Support: Honored, Note: "run inside the container, without a shell"},
		{Path: p + "httpGet.path", Support: Honored, Note: "default /"},
		{Path: p + "httpGet.port", Support: Honored},
		{Path: p + "httpGet.host", Support: Honored, Note: "default: the pod IP"},
		{Path: p + "httpGet.scheme", Support: Honored, Values: []string{"HTTP", "HTTPS"}, Note: "HTTPS does not verify the certificate, as the kubelet"},
		{Path: p + "httpGet.httpHeaders[*].name", Support: Honored},
		{Path: p + "httpGet.httpHeaders[*].value", Support: Honored},
	}
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
		{Path: "spec.ipFamilyPolicy", Support: Ignored, Values: []string{"SingleStack", "PreferDualStack"}, Note: "Keelson is IPv4 only: PreferDualStack falls back to single stack, as Kubernetes does on a single-stack cluster; RequireDualStack is refused"},
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

// supportErrors checks every set field of one object and returns one error per
// unsupported subtree: a field the table knows nothing about is reported at the first
// segment of its path that no rule reaches (`spec.ephemeralContainers`, not each of
// its leaves), at the position of the first field set below it. Refused values are
// reported per field, since each is its own mistake.
func (ix *fieldIndex) supportErrors(kind string, set []setField) []FieldError {
	var errs []FieldError
	reported := map[string]bool{}
	for _, f := range set {
		msg := ix.checkSupport(kind, f)
		if msg == "" {
			continue
		}
		at := f.path
		if msg == notSupported {
			at = ix.subtreeRoot(kind, f)
			if reported[at] {
				continue
			}
			reported[at] = true
		}
		errs = append(errs, FieldError{Pos: f.pos, Field: at, Message: msg})
	}
	return errs
}

// subtreeRoot is the real path (with indices) of the shortest prefix of f that the
// table does not reach, or f's own path when every prefix is on the way to a rule.
func (ix *fieldIndex) subtreeRoot(kind string, f setField) string {
	norm, real := pathPrefixes(f.norm), pathPrefixes(f.path)
	if len(norm) != len(real) {
		return f.path
	}
	for i, p := range norm {
		if !ix.tree[kind][p] {
			return real[i]
		}
	}
	return f.path
}

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
