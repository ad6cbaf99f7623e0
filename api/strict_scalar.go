package api

import (
	"math"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Scalars: YAML resolves a plain scalar's type from its text (8080 is a number, yes
// is a boolean only in YAML 1.1), so each check looks at the resolved tag, the way
// Kubernetes' decoder sees the value after its YAML-to-JSON step.

// scalar checks a string, boolean or number field.
func (w *walker) scalar(n *yaml.Node, t reflect.Type, path, norm string, pos Position) (any, bool) {
	if n.Kind != yaml.ScalarNode {
		w.mismatch(n, t, path, pos)
		return nil, false
	}
	tag := n.ShortTag()
	var v any
	switch t.Kind() {
	case reflect.String:
		if tag != "!!str" && tag != "!!timestamp" {
			w.mismatch(n, t, path, pos)
			return nil, false
		}
		v = n.Value
	case reflect.Bool:
		b, ok := yamlBool(n)
		if !ok {
			w.mismatch(n, t, path, pos)
			return nil, false
		}
		v = b
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := w.integer(n, t, path, pos)
		if !ok {
			return nil, false
		}
		v = i
	case reflect.Float32, reflect.Float64:
		var f float64
		if (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			w.mismatch(n, t, path, pos)
			return nil, false
		}
		v = f
	default:
		w.errorf(pos, path, "cannot decode a field of Go type %s", t)
		return nil, false
	}
	w.set = append(w.set, setField{path: path, norm: norm, pos: pos, value: n.Value})
	return v, true
}

func (w *walker) integer(n *yaml.Node, t reflect.Type, path string, pos Position) (int64, bool) {
	var i int64
	if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		w.mismatch(n, t, path, pos)
		return 0, false
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32:
		lo, hi = -1<<(t.Bits()-1), 1<<(t.Bits()-1)-1
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		lo, hi = 0, 1<<t.Bits()-1
	case reflect.Uint, reflect.Uint64:
		lo = 0
	}
	if i < lo || i > hi {
		w.errorf(pos, path, "%d is out of range [%d, %d]", i, lo, hi)
		return 0, false
	}
	return i, true
}

// yamlBool accepts YAML 1.2 booleans and, unquoted, the YAML 1.1 words (yes, on, ...)
// that Kubernetes' YAML reader also takes as booleans.
func yamlBool(n *yaml.Node) (bool, bool) {
	if n.ShortTag() == "!!bool" {
		var b bool
		return b, n.Decode(&b) == nil
	}
	if n.Style != 0 {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "y", "yes", "on":
		return true, true
	case "n", "no", "off":
		return false, true
	}
	return false, false
}

func (w *walker) quantity(n *yaml.Node, path, norm string, pos Position) (any, bool) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!str" && tag != "!!int" && tag != "!!float") {
		w.mismatch(n, quantityType, path, pos)
		return nil, false
	}
	if _, err := resource.ParseQuantity(n.Value); err != nil {
		w.errorf(pos, path, "invalid quantity %q: %v", n.Value, err)
		return nil, false
	}
	w.set = append(w.set, setField{path: path, norm: norm, pos: pos, value: n.Value})
	return n.Value, true
}

func (w *walker) intOrString(n *yaml.Node, path, norm string, pos Position) (any, bool) {
	var v any
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		v = n.Value
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
		i, ok := w.integer(n, reflect.TypeFor[int32](), path, pos)
		if !ok {
			return nil, false
		}
		v = i
	default:
		w.mismatch(n, intOrStringType, path, pos)
		return nil, false
	}
	w.set = append(w.set, setField{path: path, norm: norm, pos: pos, value: n.Value})
	return v, true
}

func (w *walker) time(n *yaml.Node, path, norm string, pos Position) (any, bool) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!str" && tag != "!!timestamp") {
		w.mismatch(n, timeType, path, pos)
		return nil, false
	}
	if _, err := time.Parse(time.RFC3339, n.Value); err != nil {
		w.errorf(pos, path, "invalid time %q: want RFC 3339 (2006-01-02T15:04:05Z)", n.Value)
		return nil, false
	}
	w.set = append(w.set, setField{path: path, norm: norm, pos: pos, value: n.Value})
	return n.Value, true
}

func (w *walker) mismatch(n *yaml.Node, t reflect.Type, path string, pos Position) {
	want, got := describeType(t), describeNode(n)
	if t.Kind() == reflect.String && (got == "a number" || got == "a boolean") {
		w.errorf(pos, path, "expected %s, got %s: quote it (%q)", want, got, n.Value)
		return
	}
	w.errorf(pos, path, "expected %s, got %s", want, got)
}

func describeType(t reflect.Type) string {
	switch t {
	case quantityType:
		return "a quantity (e.g. 100m, 64Mi)"
	case intOrStringType:
		return "an integer or a string"
	case timeType, microTimeType:
		return "a time"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return "an integer"
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!timestamp":
		return "a time"
	}
	return "a value tagged " + n.ShortTag()
}
