package kubeapi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/keelson/keelson/api"
)

// item is one object of a resource as read from a State, before it is built: lists
// build only the page they answer, and watches compare src to see what changed.
type item struct {
	namespace, name string
	sortKey         string // list order, and where a continue token resumes
	// src is everything the object is made of; a src that differs (reflect.DeepEqual:
	// unchanged records share their maps and slices, so this is cheap) is MODIFIED.
	src    any
	labels labels.Set
	fields fields.Set
	object func(rv string) runtime.Object
	row    func(now time.Time) []any
}

// resource describes one served resource type.
type resource struct {
	name, singular, kind string
	shortNames           []string
	categories           []string
	namespaced           bool
	// tables are the store tables the objects are made of: the largest of their
	// indexes is the resourceVersion of a list, and a watch wakes when it grows.
	tables []string
	// fieldLabels are the field selectors supported besides metadata.name/namespace.
	fieldLabels []string
	columns     []column
	items       func(st State) []item
}

// resources are the served resource types, in discovery order. ConfigMaps join them
// when the store has them (an items func over the store's configmaps table, values
// included, as Kubernetes shows them); Secrets are never served.
var resources = []*resource{
	{name: "pods", singular: "pod", kind: "Pod", shortNames: []string{"po"}, categories: []string{"all"}, namespaced: true,
		tables: []string{"pods", "nodes"}, fieldLabels: []string{"spec.nodeName", "status.phase", "status.podIP"},
		columns: podColumns, items: podItems},
	{name: "services", singular: "service", kind: "Service", shortNames: []string{"svc"}, categories: []string{"all"}, namespaced: true,
		tables: []string{"services", "meta"}, fieldLabels: []string{"spec.type", "spec.clusterIP"},
		columns: serviceColumns, items: serviceItems},
	{name: "replicationcontrollers", singular: "replicationcontroller", kind: "ReplicationController", shortNames: []string{"rc"},
		categories: []string{"all"}, namespaced: true, tables: []string{"pods", "meta", "objects"},
		fieldLabels: []string{"status.replicas"}, columns: rcColumns, items: rcItems},
	{name: "endpoints", singular: "endpoints", kind: "Endpoints", shortNames: []string{"ep"}, namespaced: true,
		tables: []string{"endpoints", "meta"}, columns: endpointsColumns, items: endpointsItems},
	{name: "nodes", singular: "node", kind: "Node", shortNames: []string{"no"},
		tables: []string{"nodes"}, fieldLabels: []string{"spec.unschedulable"}, columns: nodeColumns, items: nodeItems},
	{name: "namespaces", singular: "namespace", kind: "Namespace", shortNames: []string{"ns"},
		tables: []string{"pods", "services", "meta", "events"}, fieldLabels: []string{"status.phase"},
		columns: namespaceColumns, items: namespaceItems},
	{name: "events", singular: "event", kind: "Event", shortNames: []string{"ev"}, namespaced: true,
		tables: []string{"events", "pods"}, fieldLabels: []string{
			"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
			"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
			"reason", "reportingComponent", "source", "type"},
		columns: eventColumns, items: eventItems},
}

func lookupResource(name string) *resource {
	for _, r := range resources {
		if r.name == name {
			return r
		}
	}
	return nil
}

// indexOf is the resourceVersion of the resource in st (at least 1: 0 means "any").
func (r *resource) indexOf(st State) uint64 {
	var m uint64
	for _, t := range r.tables {
		m = max(m, st.TableIndex(t))
	}
	return max(m, 1)
}

func sortItems(items []item) []item {
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.sortKey, b.sortKey) })
	return items
}

func nsName(ns, name string) string { return ns + "\x00" + name }

// createdAt is the time Git-declared objects show as created: the applied commit's.
func createdAt(st State) time.Time {
	if rev := st.Revision(); rev != nil {
		return rev.Time
	}
	return time.Time{}
}

// currentPods picks, for each namespace/name, the pod kubectl should see: a name
// belongs to one object, and a bare Pod being replaced has two records (the stopping
// one and its successor). The running one wins, then the newest.
func currentPods(st State) []api.PodRecord {
	all := st.Pods()
	byName := make(map[string]int, len(all))
	out := make([]api.PodRecord, 0, len(all))
	for _, p := range all {
		k := nsName(p.Namespace, p.Name)
		i, seen := byName[k]
		if !seen {
			byName[k] = len(out)
			out = append(out, p)
			continue
		}
		q := &out[i]
		if (p.Desire == api.DesireRun) != (q.Desire == api.DesireRun) {
			if p.Desire == api.DesireRun {
				*q = p
			}
		} else if p.CreatedAt.After(q.CreatedAt) {
			*q = p
		}
	}
	return out
}

func podItems(st State) []item {
	hosts := map[string]string{}
	for _, n := range st.Nodes() {
		hosts[n.Name] = n.Address
	}
	pods := currentPods(st)
	out := make([]item, 0, len(pods))
	for i := range pods {
		p := &pods[i]
		host := hosts[p.Node]
		out = append(out, item{
			namespace: p.Namespace, name: p.Name, sortKey: nsName(p.Namespace, p.Name),
			src: podSrc{p, host}, labels: p.Labels,
			fields: fields.Set{
				"metadata.name": p.Name, "metadata.namespace": p.Namespace, "spec.nodeName": p.Node,
				"status.phase": string(podPhase(p)), "status.podIP": p.Status.PodIP,
			},
			object: func(rv string) runtime.Object { return podObject(p, host, rv) },
			row:    func(now time.Time) []any { return podRow(p, now) },
		})
	}
	return sortItems(out)
}

// podSrc is what a Pod object is made of.
type podSrc struct {
	rec  *api.PodRecord
	host string
}

func serviceItems(st State) []item {
	desired := map[string]*corev1.Service{}
	created := createdAt(st)
	if rev := st.Revision(); rev != nil {
		for i := range rev.Objects.Services {
			s := &rev.Objects.Services[i]
			desired[api.Key("Service", s.Namespace, s.Name)] = s
		}
	}
	var out []item
	for _, rec := range st.Services() {
		rec := rec
		d := desired[rec.Key()]
		var lbls map[string]string
		if d != nil {
			lbls = d.Labels
		}
		out = append(out, item{
			namespace: rec.Namespace, name: rec.Name, sortKey: nsName(rec.Namespace, rec.Name),
			src: [3]any{rec, d, created}, labels: lbls,
			fields: fields.Set{"metadata.name": rec.Name, "metadata.namespace": rec.Namespace,
				"spec.type": string(rec.Spec.Type), "spec.clusterIP": rec.Spec.ClusterIP},
			object: func(rv string) runtime.Object { return serviceObject(&rec, d, created, rv) },
			row:    func(now time.Time) []any { return serviceRow(&rec, created, now) },
		})
	}
	return sortItems(out)
}

func rcItems(st State) []item {
	rev := st.Revision()
	views := api.RCViews(rev, st.ObjectStatus(), st.PodsByOwner)
	if rev == nil {
		return nil
	}
	created := rev.Time
	out := make([]item, 0, len(views))
	for i := range views {
		rc, v := &rev.Objects.ReplicationControllers[i], &views[i]
		out = append(out, item{
			namespace: rc.Namespace, name: rc.Name, sortKey: nsName(rc.Namespace, rc.Name),
			src: [3]any{rc, *v, created}, labels: rc.Labels,
			fields: fields.Set{"metadata.name": rc.Name, "metadata.namespace": rc.Namespace,
				"status.replicas": fmt.Sprint(v.Current)},
			object: func(rv string) runtime.Object { return rcObject(rc, v, created, rv) },
			row:    func(now time.Time) []any { return rcRow(rc, v, created, now) },
		})
	}
	return sortItems(out)
}

func endpointsItems(st State) []item {
	created := createdAt(st)
	var out []item
	for _, e := range st.Endpoints() {
		e := e
		out = append(out, item{
			namespace: e.Namespace, name: e.Name, sortKey: nsName(e.Namespace, e.Name),
			src: [2]any{e, created}, fields: fields.Set{"metadata.name": e.Name, "metadata.namespace": e.Namespace},
			object: func(rv string) runtime.Object { return endpointsObject(&e, created, rv) },
			row:    func(now time.Time) []any { return endpointsRow(endpointsObject(&e, created, ""), created, now) },
		})
	}
	return sortItems(out)
}

func nodeItems(st State) []item {
	var out []item
	for _, n := range st.Nodes() {
		n := n
		out = append(out, item{
			name: n.Name, sortKey: n.Name, src: n, labels: n.Labels,
			fields: fields.Set{"metadata.name": n.Name, "spec.unschedulable": fmt.Sprint(n.Unschedulable)},
			object: func(rv string) runtime.Object { return nodeObject(&n, rv) },
			row:    func(now time.Time) []any { return nodeRow(&n, now) },
		})
	}
	return sortItems(out)
}

// namespaceItems lists the namespaces objects live in: Keelson has no Namespace
// objects, a namespace exists while something is in it ("default" always).
func namespaceItems(st State) []item {
	names := map[string]bool{metav1.NamespaceDefault: true}
	for _, p := range st.Pods() {
		names[p.Namespace] = true
	}
	for _, s := range st.Services() {
		names[s.Namespace] = true
	}
	if rev := st.Revision(); rev != nil {
		for _, rc := range rev.Objects.ReplicationControllers {
			names[rc.Namespace] = true
		}
	}
	created := createdAt(st)
	var out []item
	for name := range names {
		out = append(out, item{
			name: name, sortKey: name, src: [2]any{name, created},
			labels: labels.Set{"kubernetes.io/metadata.name": name},
			fields: fields.Set{"metadata.name": name, "status.phase": string(corev1.NamespaceActive)},
			object: func(rv string) runtime.Object { return namespaceObject(name, created, rv) },
			row:    func(now time.Time) []any { return namespaceRow(name, created, now) },
		})
	}
	return sortItems(out)
}

func eventItems(st State) []item {
	evs := st.Events(0, 0)
	if len(evs) == 0 {
		return nil
	}
	podUIDs := map[string]types.UID{}
	for _, p := range currentPods(st) {
		podUIDs[api.Key("Pod", p.Namespace, p.Name)] = types.UID(p.UID)
	}
	out := make([]item, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		uid, ok := podUIDs[e.Object]
		if !ok && !strings.HasPrefix(e.Object, "Pod/") {
			uid = derivedUID(e.Object)
		}
		ev := eventObject(e, uid, "")
		out = append(out, item{
			namespace: ev.Namespace, name: ev.Name, sortKey: fmt.Sprintf("%s\x00%020d", ev.Namespace, e.Seq),
			src: [2]any{*e, uid},
			fields: fields.Set{
				"metadata.name": ev.Name, "metadata.namespace": ev.Namespace,
				"involvedObject.kind": ev.InvolvedObject.Kind, "involvedObject.namespace": ev.InvolvedObject.Namespace,
				"involvedObject.name": ev.InvolvedObject.Name, "involvedObject.uid": string(ev.InvolvedObject.UID),
				"involvedObject.apiVersion": ev.InvolvedObject.APIVersion, "involvedObject.resourceVersion": "",
				"involvedObject.fieldPath": "", "reason": ev.Reason, "reportingComponent": ev.ReportingController,
				"source": ev.Source.Component, "type": ev.Type,
			},
			object: func(rv string) runtime.Object { c := ev.DeepCopy(); c.ResourceVersion = rv; return c },
			row:    func(now time.Time) []any { return eventRow(ev, now) },
		})
	}
	return sortItems(out)
}
