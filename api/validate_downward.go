package api

import (
	"path"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The downward API's field paths, as Kubernetes accepts them: env may name one label
// or annotation and the pod's placement; volumes may name whole label/annotation maps.
var (
	envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid",
		"spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	volumeFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations"}
	// subscriptedPath is metadata.labels['key'] or metadata.annotations['key'].
	subscriptedPath = regexp.MustCompile(`^metadata\.(labels|annotations)\['([^']*)'\]$`)
)

// FieldSubscript splits a downward API path of the form metadata.labels['key'] or
// metadata.annotations['key'] into "labels" or "annotations" and the key.
func FieldSubscript(path string) (field, key string, ok bool) {
	m := subscriptedPath.FindStringSubmatch(path)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// validateEnvSource checks one env var's valueFrom (the table refuses the sources
// Keelson cannot serve: configMapKeyRef and secretKeyRef need kinds it lacks).
func validateEnvSource(c *checker, p *field.Path, e *corev1.EnvVar, ct *corev1.Container, containers map[string]*corev1.Container) {
	src := e.ValueFrom
	if src == nil {
		return
	}
	vp := p.Child("valueFrom")
	if e.Value != "" {
		c.errorf(vp, "may not be specified when value is not empty")
	}
	n := 0
	if src.FieldRef != nil {
		n++
		validateFieldRef(c, vp.Child("fieldRef"), src.FieldRef, envFieldPaths)
	}
	if r := src.ResourceFieldRef; r != nil {
		n++
		validateResourceRef(c, vp.Child("resourceFieldRef"), r, ct.Name, containers, false)
	}
	if src.ConfigMapKeyRef != nil {
		n++
	}
	if src.SecretKeyRef != nil {
		n++
	}
	if n != 1 {
		c.errorf(vp, "must specify exactly one of fieldRef or resourceFieldRef")
	}
}

func validateFieldRef(c *checker, p *field.Path, f *corev1.ObjectFieldSelector, allowed []string) {
	fp := p.Child("fieldPath")
	_, key, subscripted := FieldSubscript(f.FieldPath)
	switch {
	case f.FieldPath == "":
		c.required(fp)
	case subscripted:
		if msgs := validation.IsQualifiedName(strings.ToLower(key)); len(msgs) > 0 {
			c.invalid(fp, f.FieldPath, msgs)
		}
	case !slices.Contains(allowed, f.FieldPath):
		c.errorf(fp, "unsupported value %q: supported values: %s", f.FieldPath, strings.Join(quoteAll(append(slices.Clip(allowed), "metadata.labels['<KEY>']", "metadata.annotations['<KEY>']")), ", "))
	}
}

// validateResourceRef checks a resourceFieldRef. In env the container defaults to the
// one the variable belongs to; in a volume it is required.
func validateResourceRef(c *checker, p *field.Path, r *corev1.ResourceFieldSelector, self string, containers map[string]*corev1.Container, volume bool) {
	name := r.ContainerName
	switch {
	case name == "" && volume:
		c.required(p.Child("containerName"))
	case name != "" && containers[name] == nil:
		c.errorf(p.Child("containerName"), "invalid value %q: the pod has no container of that name", name)
	}
	if r.Resource == "" { // the table refuses other values
		c.required(p.Child("resource"))
	}
	if r.Divisor.IsZero() {
		return
	}
	d := r.Divisor.String()
	valid := []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
	if strings.HasSuffix(r.Resource, ".cpu") {
		valid = []string{"1m", "1"}
	}
	if !slices.ContainsFunc(valid, func(v string) bool { q := resource.MustParse(v); return q.Cmp(r.Divisor) == 0 }) {
		c.errorf(p.Child("divisor"), "unsupported value %q: supported values: %s", d, strings.Join(quoteAll(valid), ", "))
	}
}

// validateDownwardVolume checks a downwardAPI volume: relative paths without "..",
// unique, each with exactly one of fieldRef and resourceFieldRef, modes 0-0777.
func validateDownwardVolume(c *checker, p *field.Path, d *corev1.DownwardAPIVolumeSource, containers map[string]*corev1.Container) {
	if d.DefaultMode != nil {
		validateMode(c, p.Child("defaultMode"), *d.DefaultMode)
	}
	paths := map[string]bool{}
	for i := range d.Items {
		it := &d.Items[i]
		ip := p.Child("items").Index(i)
		switch {
		case it.Path == "":
			c.required(ip.Child("path"))
		case path.IsAbs(it.Path) || slices.Contains(strings.Split(it.Path, "/"), ".."):
			c.errorf(ip.Child("path"), "invalid value %q: must be a relative path without '..'", it.Path)
		case paths[path.Clean(it.Path)]:
			c.errorf(ip.Child("path"), "duplicate path %q", it.Path)
		}
		paths[path.Clean(it.Path)] = true
		if it.Mode != nil {
			validateMode(c, ip.Child("mode"), *it.Mode)
		}
		switch {
		case (it.FieldRef == nil) == (it.ResourceFieldRef == nil):
			c.errorf(ip, "must specify exactly one of fieldRef or resourceFieldRef")
		case it.FieldRef != nil:
			validateFieldRef(c, ip.Child("fieldRef"), it.FieldRef, volumeFieldPaths)
		default:
			validateResourceRef(c, ip.Child("resourceFieldRef"), it.ResourceFieldRef, "", containers, true)
		}
	}
}

func validateMode(c *checker, p *field.Path, m int32) {
	if m < 0 || m > 0o777 {
		c.errorf(p, "invalid value %d: must be a number between 0 and 0777 (octal), both inclusive", m)
	}
}
