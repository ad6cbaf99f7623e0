package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
)

// Decode decodes, defaults and validates every manifest file of one revision and
// returns the desired state with all problems found (not just the first). A revision
// with any error must not be applied. The returned Manifests hold every object that
// could be decoded, even when other problems were found (so `keelson plan` can still
// show something); each list is sorted by namespace/name. Errors are sorted by file,
// line and column.
func Decode(files []File) (Manifests, []FieldError) { return decodeLimited(files, defaultCaps) }

func decodeLimited(files []File, caps revisionCaps) (Manifests, []FieldError) {
	d := &decoder{
		m:     Manifests{Sources: map[string]Source{}},
		types: map[reflect.Type]map[string]reflect.Type{},
		cross: newCrossCheck(),
		sizes: revisionBudget{revisionCaps: caps},
	}
	for _, f := range files {
		if ok, fe := d.sizes.file(f); !ok {
			if fe != nil {
				d.errs = append(d.errs, *fe)
			}
			continue
		}
		d.file(f)
	}
	sortObjects(&d.m)
	slices.SortStableFunc(d.errs, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	return d.m, d.errs
}

type decoder struct {
	m     Manifests
	errs  []FieldError
	types map[reflect.Type]map[string]reflect.Type
	cross *crossCheck
	sizes revisionBudget // the revision's limits (limits.go)
	// budget is the nodes the current file may still visit (see walker.budget).
	budget int
}

func (d *decoder) file(f File) {
	d.budget = maxNodes
	docs, errs := readDocuments(f)
	for _, root := range docs {
		errs = append(errs, d.document(f.Path, root)...)
		if len(errs) > maxErrorsPerFile {
			break
		}
	}
	if len(errs) > maxErrorsPerFile {
		errs = append(errs[:maxErrorsPerFile], FieldError{Pos: Position{File: f.Path}, Message: fmt.Sprintf("more than %d problems in this file; the rest are not shown", maxErrorsPerFile)})
	}
	d.errs = append(d.errs, errs...)
}

// document decodes one YAML document: an object or a List of objects.
func (d *decoder) document(file string, root *yaml.Node) []FieldError {
	pos := nodePos(file, root)
	if root.Kind != yaml.MappingNode {
		return []FieldError{{Pos: pos, Message: "a manifest must be a mapping with apiVersion and kind"}}
	}
	if _, kind := scalarField(root, "kind"); kind != nil && kind.Value == "List" {
		return d.list(file, root)
	}
	return d.object(file, root, "")
}

// list decodes a `kind: List` whose items are objects. Its own metadata is ignored.
func (d *decoder) list(file string, root *yaml.Node) []FieldError {
	var errs []FieldError
	if k, v := scalarField(root, "apiVersion"); v == nil || v.Value != "v1" {
		pos := nodePos(file, root)
		if k != nil {
			pos = nodePos(file, k)
		}
		return []FieldError{{Pos: pos, Object: "List", Field: "apiVersion", Message: "a List must have apiVersion v1"}}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "apiVersion", "kind", "metadata":
		case "items":
			if v.Kind != yaml.SequenceNode {
				if v.ShortTag() != "!!null" {
					errs = append(errs, FieldError{Pos: nodePos(file, k), Field: "items", Message: "expected a list, got " + describeNode(v)})
				}
				continue
			}
			for j, item := range v.Content {
				prefix := fmt.Sprintf("items[%d]", j)
				if item.Kind != yaml.MappingNode {
					errs = append(errs, FieldError{Pos: nodePos(file, item), Field: prefix, Message: "a List item must be a mapping with apiVersion and kind"})
					continue
				}
				if _, kind := scalarField(item, "kind"); kind != nil && kind.Value == "List" {
					errs = append(errs, FieldError{Pos: nodePos(file, item), Field: prefix, Message: "a List cannot contain a List"})
					continue
				}
				errs = append(errs, d.object(file, item, prefix)...)
			}
		default:
			errs = append(errs, FieldError{Pos: nodePos(file, k), Field: k.Value, Message: "unknown field"})
		}
	}
	return errs
}

// object decodes, checks, defaults and validates one object. listPath is "items[3]"
// for an item of a List (used only when the object has no usable kind).
func (d *decoder) object(file string, n *yaml.Node, listPath string) []FieldError {
	docPos := nodePos(file, n)
	kindKey, kindVal := scalarField(n, "kind")
	avKey, avVal := scalarField(n, "apiVersion")
	name, ns := metaNames(n)
	label := ""
	if kindVal != nil {
		label = objectLabel(kindVal.Value, ns, name)
	}
	var errs []FieldError
	where := func(k *yaml.Node) Position {
		if k != nil {
			return nodePos(file, k)
		}
		return docPos
	}
	kind := ""
	switch {
	case kindVal == nil || kindVal.Value == "":
		errs = append(errs, FieldError{Pos: where(kindKey), Field: child(listPath, "kind"), Message: "required value"})
	case !slices.Contains([]string{"Pod", "Service", "ReplicationController"}, kindVal.Value):
		errs = append(errs, FieldError{Pos: where(kindKey), Field: child(listPath, "kind"), Message: fmt.Sprintf("unsupported kind %q: Keelson reads Pod, Service, ReplicationController and List", kindVal.Value)})
	default:
		kind = kindVal.Value
	}
	switch {
	case avVal == nil || avVal.Value == "":
		errs = append(errs, FieldError{Pos: where(avKey), Field: child(listPath, "apiVersion"), Message: "required value"})
	case avVal.Value != "v1":
		errs = append(errs, FieldError{Pos: where(avKey), Field: child(listPath, "apiVersion"), Message: fmt.Sprintf("unsupported apiVersion %q: Keelson reads v1 objects only", avVal.Value)})
	}
	if kind == "" || len(errs) > 0 {
		for i := range errs {
			errs[i].Object = label
		}
		return errs
	}

	w := newWalker(file, d.types, &d.budget)
	value, _ := w.walk(n, objectType(kind), "", "", docPos, 0)
	errs = append(errs, w.errs...)
	errs = append(errs, supportIndex().supportErrors(kind, w.set)...)
	if len(w.errs) == 0 {
		c := &checker{file: file, pos: w.pos, doc: docPos}
		if err := d.typed(kind, value, c); err != nil {
			errs = append(errs, FieldError{Pos: docPos, Message: err.Error()})
		}
		errs = append(errs, c.errs...)
	}
	for i := range errs {
		errs[i].Object = label
	}
	return errs
}

// typed turns a checked JSON value into its Kubernetes type, then defaults, validates
// and records it.
func (d *decoder) typed(kind string, value any, c *checker) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	src := Source{File: c.file, Line: c.doc.Line}
	switch kind {
	case "Pod":
		var p corev1.Pod
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("decode Pod: %w", err)
		}
		defaultPod(&p)
		validatePod(c, &p)
		d.sizes.checkPod(c, &p)
		key := Key(kind, p.Namespace, p.Name)
		d.cross.define(c, key, src)
		d.m.Pods = append(d.m.Pods, p)
		d.record(key, src)
	case "Service":
		var s corev1.Service
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("decode Service: %w", err)
		}
		defaultService(&s)
		validateService(c, &s)
		d.sizes.checkService(c)
		key := Key(kind, s.Namespace, s.Name)
		d.cross.define(c, key, src)
		d.cross.service(c, &s)
		d.m.Services = append(d.m.Services, s)
		d.record(key, src)
	case "ReplicationController":
		var rc corev1.ReplicationController
		if err := json.Unmarshal(raw, &rc); err != nil {
			return fmt.Errorf("decode ReplicationController: %w", err)
		}
		defaultRC(&rc)
		validateRC(c, &rc)
		d.sizes.checkRC(c, &rc)
		key := Key(kind, rc.Namespace, rc.Name)
		d.cross.define(c, key, src)
		d.m.ReplicationControllers = append(d.m.ReplicationControllers, rc)
		d.record(key, src)
	}
	return nil
}

// record keeps the first definition's source: a second one is a duplicate error.
func (d *decoder) record(key string, src Source) {
	if _, ok := d.m.Sources[key]; !ok {
		d.m.Sources[key] = src
	}
}

func objectType(kind string) reflect.Type {
	switch kind {
	case "Pod":
		return reflect.TypeFor[corev1.Pod]()
	case "Service":
		return reflect.TypeFor[corev1.Service]()
	}
	return reflect.TypeFor[corev1.ReplicationController]()
}

// objectLabel names an object in messages: "Kind/name", or "Kind/namespace/name"
// outside the default namespace.
func objectLabel(kind, ns, name string) string {
	switch {
	case name == "":
		return kind
	case ns == "" || ns == DefaultNamespace:
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

// scalarField returns the key and scalar value of a field of mapping n (nil value
// when it is not a scalar), or nils.
func scalarField(n *yaml.Node, name string) (key, value *yaml.Node) {
	visits := maxLookupVisits
	key, value = lookupField(n, name, &visits)
	if value != nil && value.Kind != yaml.ScalarNode {
		value = nil
	}
	return key, value
}

// lookupField finds a field of a mapping before the strict walk (which reports
// problems), following aliases and merge keys (<<) as the walk does. Explicit keys win
// over merged ones.
func lookupField(n *yaml.Node, name string, visits *int) (key, value *yaml.Node) {
	n = resolveAlias(n)
	*visits--
	if n == nil || n.Kind != yaml.MappingNode || *visits < 0 {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, n.Content[i+1])
			continue
		}
		if k.Value == name {
			return k, resolveAlias(n.Content[i+1])
		}
	}
	for _, m := range merges {
		m = resolveAlias(m)
		sources := []*yaml.Node{m}
		if m != nil && m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			if k, v := lookupField(src, name, visits); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// maxLookupVisits bounds lookupField's walk through merge keys, which could otherwise
// be exponential in a hostile document.
const maxLookupVisits = 1000

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > maxDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

// metaNames reads metadata.name and metadata.namespace before the strict walk, so that
// every error can name its object.
func metaNames(n *yaml.Node) (name, ns string) {
	visits := maxLookupVisits
	_, meta := lookupField(n, "metadata", &visits)
	if _, v := scalarField(meta, "name"); v != nil {
		name = v.Value
	}
	if _, v := scalarField(meta, "namespace"); v != nil {
		ns = v.Value
	}
	return name, ns
}

func sortObjects(m *Manifests) {
	slices.SortStableFunc(m.Pods, func(a, b corev1.Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	slices.SortStableFunc(m.Services, func(a, b corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	slices.SortStableFunc(m.ReplicationControllers, func(a, b corev1.ReplicationController) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
}
