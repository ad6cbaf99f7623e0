package api

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The strict decoder walks the YAML node tree and the Go type side by side. Doing it by
// hand, rather than asking a JSON decoder to be strict, is what gives every problem the
// line and column of the offending key, reports all problems instead of the first,
// and records which fields a manifest sets (for the supported-fields table). The
// result is a plain JSON value that encoding/json then turns into the typed object;
// by then it contains only known fields of the right types.

var (
	quantityType    = reflect.TypeFor[resource.Quantity]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
	timeType        = reflect.TypeFor[metav1.Time]()
	microTimeType   = reflect.TypeFor[metav1.MicroTime]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// walker holds what one document's walk found.
type walker struct {
	file string
	// pos maps a field path ("spec.containers[0].image") to where its key is written.
	pos  map[string]Position
	set  []setField
	errs []FieldError
	// budget counts down the nodes the file may still visit (aliases expanded); over
	// is set once it is spent. It is shared by the documents of a file, so that many
	// small bombs cannot add up.
	budget *int
	over   bool
	// types caches jsonFields per struct type for the whole Decode call.
	types map[reflect.Type]map[string]reflect.Type
}

func newWalker(file string, types map[reflect.Type]map[string]reflect.Type, budget *int) *walker {
	return &walker{file: file, pos: map[string]Position{}, types: types, budget: budget}
}

func (w *walker) fieldsOf(t reflect.Type) map[string]reflect.Type {
	f, ok := w.types[t]
	if !ok {
		f = jsonFields(t)
		w.types[t] = f
	}
	return f
}

// errorf records a problem. Past maxErrorsPerFile the rest are dropped here already:
// Decode only shows that many, and a hostile file could otherwise make millions.
func (w *walker) errorf(pos Position, path, format string, args ...any) {
	if len(w.errs) > maxErrorsPerFile {
		return
	}
	w.errs = append(w.errs, FieldError{Pos: pos, Field: path, Message: fmt.Sprintf(format, args...)})
}

// visit charges one node to the document's budget and follows aliases.
func (w *walker) visit(n *yaml.Node, pos Position, path string, depth int) (*yaml.Node, bool) {
	if w.over {
		return nil, false
	}
	*w.budget--
	if *w.budget < 0 || depth > 2*maxDepth {
		w.over = true
		w.errorf(pos, path, "file expands to more than %d nodes or %d levels (YAML alias bomb?)", maxNodes, 2*maxDepth)
		return nil, false
	}
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > maxDepth {
			w.errorf(pos, path, "unresolvable YAML alias")
			return nil, false
		}
		n = n.Alias
	}
	return n, true
}

// walk checks node n against Go type t and returns its JSON value. ok is false for a
// null (the caller omits the field).
func (w *walker) walk(n *yaml.Node, t reflect.Type, path, norm string, pos Position, depth int) (v any, ok bool) {
	n, ok = w.visit(n, pos, path, depth)
	if !ok {
		return nil, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case quantityType:
		return w.quantity(n, path, norm, pos)
	case intOrStringType:
		return w.intOrString(n, path, norm, pos)
	case timeType, microTimeType:
		return w.time(n, path, norm, pos)
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface {
		w.set = append(w.set, setField{path: path, norm: norm, pos: pos})
		return w.generic(n, path, pos, depth)
	}
	switch t.Kind() {
	case reflect.Struct:
		return w.object(n, t, path, norm, pos, depth)
	case reflect.Map:
		return w.mapping(n, t, path, norm, pos, depth)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return w.scalar(n, reflect.TypeFor[string](), path, norm, pos)
		}
		return w.list(n, t, path, norm, pos, depth)
	default:
		return w.scalar(n, t, path, norm, pos)
	}
}

func (w *walker) object(n *yaml.Node, t reflect.Type, path, norm string, pos Position, depth int) (any, bool) {
	if n.Kind != yaml.MappingNode {
		w.mismatch(n, t, path, pos)
		return nil, false
	}
	fields := w.fieldsOf(t)
	out := map[string]any{}
	for _, p := range w.pairs(n, path, pos, depth) {
		name := p.key.Value
		fpath, fnorm := child(path, name), child(norm, name)
		fpos := nodePos(w.file, p.key)
		ft, known := fields[name]
		if !known {
			w.unknownField(fields, name, fpath, fpos)
			continue
		}
		w.pos[fpath] = fpos
		if v, ok := w.walk(p.value, ft, fpath, fnorm, fpos, depth+1); ok {
			out[name] = v
		}
	}
	if len(out) == 0 && len(n.Content) == 0 {
		w.set = append(w.set, setField{path: path, norm: norm, pos: pos, empty: true})
	}
	return out, true
}

func (w *walker) unknownField(fields map[string]reflect.Type, name, path string, pos Position) {
	for known := range fields {
		if strings.EqualFold(known, name) {
			w.errorf(pos, path, "unknown field (did you mean %q?)", known)
			return
		}
	}
	w.errorf(pos, path, "unknown field")
}

func (w *walker) mapping(n *yaml.Node, t reflect.Type, path, norm string, pos Position, depth int) (any, bool) {
	if n.Kind != yaml.MappingNode {
		w.mismatch(n, t, path, pos)
		return nil, false
	}
	out := map[string]any{}
	for _, p := range w.pairs(n, path, pos, depth) {
		k := p.key.Value
		kpath, knorm := path+"["+k+"]", norm+"["+k+"]"
		kpos := nodePos(w.file, p.key)
		w.pos[kpath] = kpos
		v, _ := w.walk(p.value, t.Elem(), kpath, knorm, kpos, depth+1)
		out[k] = v // a null value is kept, as encoding/json keeps the key
	}
	if len(out) == 0 {
		w.set = append(w.set, setField{path: path, norm: norm, pos: pos, empty: true})
	}
	return out, true
}

func (w *walker) list(n *yaml.Node, t reflect.Type, path, norm string, pos Position, depth int) (any, bool) {
	if n.Kind != yaml.SequenceNode {
		w.mismatch(n, t, path, pos)
		return nil, false
	}
	out := make([]any, 0, len(n.Content))
	for i, item := range n.Content {
		ipath := path + "[" + strconv.Itoa(i) + "]"
		ipos := nodePos(w.file, item)
		w.pos[ipath] = ipos
		v, _ := w.walk(item, t.Elem(), ipath, norm+"[*]", ipos, depth+1)
		out = append(out, v)
	}
	if len(out) == 0 {
		w.set = append(w.set, setField{path: path, norm: norm, pos: pos, empty: true})
	}
	return out, true
}

// keyValue is one entry of a YAML mapping after merge keys are applied.
type keyValue struct{ key, value *yaml.Node }

// pairs returns the entries of a mapping. Duplicate keys are errors; merge keys (<<)
// are expanded, with explicit keys taking precedence as YAML specifies.
func (w *walker) pairs(n *yaml.Node, path string, pos Position, depth int) []keyValue {
	var explicit, merged []keyValue
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, w.mergeSources(v, path, nodePos(w.file, k), depth)...)
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			w.errorf(nodePos(w.file, k), path, "mapping keys must be strings")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			w.errorf(nodePos(w.file, k), child(path, k.Value), "duplicate key, first defined at line %d", first.Line)
			continue
		}
		seen[k.Value] = k
		explicit = append(explicit, keyValue{k, v})
	}
	for _, kv := range merged {
		if _, dup := seen[kv.key.Value]; !dup {
			seen[kv.key.Value] = kv.key
			explicit = append(explicit, kv)
		}
	}
	return explicit
}

// mergeSources returns the entries a merge key brings in: from one mapping or from a
// list of mappings.
func (w *walker) mergeSources(v *yaml.Node, path string, pos Position, depth int) []keyValue {
	v, ok := w.visit(v, pos, path, depth+1)
	if !ok {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return w.pairs(v, path, pos, depth+1)
	case yaml.SequenceNode:
		var out []keyValue
		for _, item := range v.Content {
			m, ok := w.visit(item, pos, path, depth+1)
			if !ok {
				return out
			}
			if m.Kind != yaml.MappingNode {
				w.errorf(pos, path, "a merge key (<<) needs mappings")
				continue
			}
			out = append(out, w.pairs(m, path, pos, depth+1)...)
		}
		return out
	}
	w.errorf(pos, path, "a merge key (<<) needs a mapping")
	return nil
}

// generic converts a subtree without a schema (a field of interface type, or a type
// with its own JSON decoding).
func (w *walker) generic(n *yaml.Node, path string, pos Position, depth int) (any, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		for _, p := range w.pairs(n, path, pos, depth) {
			c, ok := w.visit(p.value, pos, path, depth+1)
			if !ok {
				return nil, false
			}
			out[p.key.Value], _ = w.generic(c, path, pos, depth+1)
		}
		return out, true
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			c, ok := w.visit(item, pos, path, depth+1)
			if !ok {
				return nil, false
			}
			v, _ := w.generic(c, path, pos, depth+1)
			out = append(out, v)
		}
		return out, true
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, true
	case "!!bool":
		b, _ := yamlBool(n)
		return b, true
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i, true
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, true
		}
	}
	return n.Value, true
}

func child(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonFields maps the JSON names of a struct's fields (inline embedded structs
// flattened, as encoding/json does) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" && (opts == "inline" || f.Type.Kind() == reflect.Struct) {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
