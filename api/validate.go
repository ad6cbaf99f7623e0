package api

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checker collects the validation problems of one object, placing each at the line of
// the field it is about (or of the nearest enclosing field that is written in the
// file, for a value that came from a default).
type checker struct {
	file string
	pos  map[string]Position // from the strict walk
	doc  Position
	errs []FieldError
}

func (c *checker) at(path string) Position {
	for p := path; p != ""; {
		if pos, ok := c.pos[p]; ok {
			return pos
		}
		prefixes := pathPrefixes(p)
		if len(prefixes) < 2 {
			break
		}
		p = prefixes[len(prefixes)-2]
	}
	return c.doc
}

func (c *checker) errorf(p *field.Path, format string, args ...any) {
	s := p.String()
	c.errs = append(c.errs, FieldError{Pos: c.at(s), Field: s, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) required(p *field.Path) { c.errorf(p, "required value") }

// invalid reports the messages of a k8s validation helper, if any.
func (c *checker) invalid(p *field.Path, value any, msgs []string) {
	if len(msgs) > 0 {
		c.errorf(p, "invalid value %s: %s", fmtValue(value), strings.Join(msgs, "; "))
	}
}

// oneOf checks an enumerated value.
func (c *checker) oneOf(p *field.Path, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		c.errorf(p, "unsupported value %q: supported values: %s", value, strings.Join(quoteAll(allowed), ", "))
	}
}

func (c *checker) nonNegative(p *field.Path, v int64) {
	if v < 0 {
		c.errorf(p, "invalid value %d: must be greater than or equal to 0", v)
	}
}

func fmtValue(v any) string {
	if s, ok := v.(string); ok {
		return quote(s)
	}
	return fmt.Sprint(v)
}

// validateMeta checks an object's metadata; nameCheck is the name rule of its kind.
func validateMeta(c *checker, m *metav1.ObjectMeta, nameCheck func(string) []string) {
	p := field.NewPath("metadata")
	if m.Name == "" {
		c.required(p.Child("name"))
	} else {
		c.invalid(p.Child("name"), m.Name, nameCheck(m.Name))
	}
	c.invalid(p.Child("namespace"), m.Namespace, validation.IsDNS1123Label(m.Namespace))
	validateLabels(c, p.Child("labels"), m.Labels)
	validateAnnotations(c, p.Child("annotations"), m.Annotations)
}

// validateLabels checks label keys and values (also used for selectors).
func validateLabels(c *checker, p *field.Path, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			c.errorf(p.Key(k), "invalid label key %q: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(labels[k]); len(msgs) > 0 {
			c.errorf(p.Key(k), "invalid label value %q: %s", labels[k], strings.Join(msgs, "; "))
		}
	}
}

// maxAnnotationsSize is Kubernetes' limit on all annotations of an object.
const maxAnnotationsSize = 256 * 1024

func validateAnnotations(c *checker, p *field.Path, annotations map[string]string) {
	total := 0
	for _, k := range sortedKeys(annotations) {
		total += len(k) + len(annotations[k])
		if msgs := validation.IsQualifiedName(strings.ToLower(k)); len(msgs) > 0 {
			c.errorf(p.Key(k), "invalid annotation key %q: %s", k, strings.Join(msgs, "; "))
		}
	}
	if total > maxAnnotationsSize {
		c.errorf(p, "annotations are %d bytes, more than the %d bytes limit", total, maxAnnotationsSize)
	}
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	slices.Sort(keys)
	return keys
}
