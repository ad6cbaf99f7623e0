// Package planview computes and renders what a branch would change, for `keelson
// plan`: the object-level diff between two revisions and the consequences that the
// reconciler's own Plan() draws from it (pods created, stopped, rolled, placements,
// what stays Pending). It is pure: the command reads the revisions and the live state.
package planview

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/keelson/keelson/api"
)

// ChangeKind says what happens to an object.
type ChangeKind string

const (
	Added   ChangeKind = "added"
	Changed ChangeKind = "changed"
	Removed ChangeKind = "removed"
)

// ObjectChange is one object that differs between base and head.
type ObjectChange struct {
	Key    string        `json:"key"`
	Change ChangeKind    `json:"change"`
	Source api.Source    `json:"source"` // head's location (base's for removed objects)
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one leaf field that differs; Old or New is empty when absent.
type FieldChange struct {
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// DiffObjects pairs the objects of two desired states by key and lists what differs,
// sorted by key.
func DiffObjects(base, head *api.Manifests) ([]ObjectChange, error) {
	b, err := objectsByKey(base)
	if err != nil {
		return nil, err
	}
	h, err := objectsByKey(head)
	if err != nil {
		return nil, err
	}
	var out []ObjectChange
	for k, ho := range h {
		bo, ok := b[k]
		if !ok {
			out = append(out, ObjectChange{Key: k, Change: Added, Source: head.Sources[k]})
			continue
		}
		if fields := diffFields(bo, ho); len(fields) > 0 {
			out = append(out, ObjectChange{Key: k, Change: Changed, Source: head.Sources[k], Fields: fields})
		}
	}
	for k := range b {
		if _, ok := h[k]; !ok {
			out = append(out, ObjectChange{Key: k, Change: Removed, Source: base.Sources[k]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// objectsByKey flattens every object of m into leaf paths, keyed by object key.
func objectsByKey(m *api.Manifests) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	if m == nil {
		return out, nil
	}
	add := func(kind, ns, name string, obj any) error {
		flat, err := flatten(obj)
		if err != nil {
			return fmt.Errorf("%s: %w", api.Key(kind, ns, name), err)
		}
		out[api.Key(kind, ns, name)] = flat
		return nil
	}
	for i := range m.Pods {
		o := &m.Pods[i]
		if err := add("Pod", o.Namespace, o.Name, o); err != nil {
			return nil, err
		}
	}
	for i := range m.Services {
		o := &m.Services[i]
		if err := add("Service", o.Namespace, o.Name, o); err != nil {
			return nil, err
		}
	}
	for i := range m.ReplicationControllers {
		o := &m.ReplicationControllers[i]
		if err := add("ReplicationController", o.Namespace, o.Name, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// flatten turns an object into "spec.containers[0].image" → "nginx:1.25" leaves, via
// its JSON form, so the diff speaks the manifest's own field names.
func flatten(obj any) (map[string]string, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	out := map[string]string{}
	walk("", v, out)
	// Status is observed, never desired; creationTimestamp is always null in Git.
	for k := range out {
		if k == "metadata.creationTimestamp" || k == "status" || len(k) > 7 && k[:7] == "status." {
			delete(out, k)
		}
	}
	return out, nil
}

func walk(path string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return
		}
		for k, c := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walk(p, c, out)
		}
	case []any:
		names := listNames(t)
		for i, c := range t {
			idx := strconv.Itoa(i)
			if names != nil {
				idx = names[i]
			}
			walk(path+"["+idx+"]", c, out)
		}
	case nil:
	case string:
		out[path] = t
	default:
		b, _ := json.Marshal(t)
		out[path] = string(b)
	}
}

// listNames returns the "name" of every element when all elements are objects with
// distinct names (containers, ports, env, volumes), so that a diff says
// containers[web].image rather than containers[0].image and inserting an element does
// not shift every later one; nil otherwise.
func listNames(list []any) []string {
	names := make([]string, len(list))
	seen := map[string]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		n, ok := m["name"].(string)
		if !ok || n == "" || seen[n] {
			return nil
		}
		seen[n] = true
		names[i] = n
	}
	return names
}

func diffFields(base, head map[string]string) []FieldChange {
	var out []FieldChange
	for p, hv := range head {
		if bv, ok := base[p]; !ok || bv != hv {
			out = append(out, FieldChange{Path: p, Old: base[p], New: hv})
		}
	}
	for p, bv := range base {
		if _, ok := head[p]; !ok {
			out = append(out, FieldChange{Path: p, Old: bv})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
