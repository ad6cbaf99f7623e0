package kubeapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// futureWait bounds how long a read asking for a resourceVersion newer than this
// server has applied (a client that talked to a more advanced server) waits for it.
const futureWait = 3 * time.Second

// filter is what a request selects.
type filter struct {
	namespace string
	name      string // a get, or a watch of one object
	labels    labels.Selector
	fields    fields.Selector
}

func (f *filter) matches(it *item) bool {
	return (f.namespace == "" || it.namespace == f.namespace) && (f.name == "" || it.name == f.name) &&
		f.labels.Matches(it.labels) && f.fields.Matches(it.fields)
}

// everything reports whether the filter selects every item (no need to test each).
func (f *filter) everything() bool {
	return f.namespace == "" && f.name == "" && f.labels.Empty() && f.fields.Empty()
}

func (h *Handler) serveResource(w http.ResponseWriter, r *http.Request, req request) {
	res := lookupResource(req.resource)
	if res == nil || (!res.namespaced && req.namespace != "") {
		writeStatus(w, notFound("the server could not find the requested resource"))
		return
	}
	switch {
	case refusedSubresources[req.subresource]:
		h.refuseWrite(w, r)
		return
	case req.subresource == "log" && res.name == "pods":
		h.serveLog(w, r, req)
		return
	case req.subresource != "" && req.subresource != "status":
		writeStatus(w, notFound("the server could not find the requested resource"))
		return
	}
	q := r.URL.Query()
	f, err := parseFilter(q, res, req)
	if err != nil {
		writeStatus(w, err)
		return
	}
	if v := q.Get("watch"); v == "true" || v == "1" {
		h.watch(w, r, res, f)
		return
	}
	st, serr := h.viewFor(r.Context(), res, q)
	if serr != nil {
		writeStatus(w, serr)
		return
	}
	h.history.record(st, h.now())
	rv := res.indexOf(st)
	if req.name != "" {
		h.get(w, r, res, st, f, rv)
		return
	}
	h.list(w, r, res, st, f, rv)
}

func parseFilter(q url.Values, res *resource, req request) (filter, *apierrors.StatusError) {
	f := filter{namespace: req.namespace, name: req.name, labels: labels.Everything(), fields: fields.Everything()}
	if v := q.Get("labelSelector"); v != "" {
		sel, err := labels.Parse(v)
		if err != nil {
			return f, badRequest("labelSelector: " + err.Error())
		}
		f.labels = sel
	}
	if v := q.Get("fieldSelector"); v != "" {
		sel, err := fields.ParseSelector(v)
		if err != nil {
			return f, badRequest("fieldSelector: " + err.Error())
		}
		for _, req := range sel.Requirements() {
			if req.Field != "metadata.name" && req.Field != "metadata.namespace" && !slices.Contains(res.fieldLabels, req.Field) {
				return f, badRequest(fmt.Sprintf("field label not supported: %s (for %s: metadata.name, metadata.namespace, %s)",
					req.Field, res.name, strings.Join(res.fieldLabels, ", ")))
			}
		}
		f.fields = sel
	}
	return f, nil
}

// continueToken is the opaque `continue` of a paged list: the resourceVersion of its
// first page (all pages come from the same state) and the last key sent.
type continueToken struct {
	RV    uint64 `json:"rv"`
	After string `json:"after"`
}

func (c continueToken) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var c continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	return c, err
}

// viewFor picks the state a read is answered from, honoring resourceVersion,
// resourceVersionMatch and continue as client-go expects: "" is the newest, "0" any
// (the newest here), N with NotOlderThan (the default) at least N, Exact exactly N; a
// continue token its first page's state. What this server no longer holds is 410.
func (h *Handler) viewFor(ctx context.Context, res *resource, q url.Values) (State, *apierrors.StatusError) {
	cur := h.store.Snapshot()
	if tok := q.Get("continue"); tok != "" {
		c, err := decodeContinue(tok)
		if err != nil {
			return nil, badRequest("continue: not a token this server issued")
		}
		st, ok := h.history.at(res, c.RV, cur)
		if !ok {
			return nil, gone("the continue token's resourceVersion " + strconv.FormatUint(c.RV, 10) + " is too old: list again")
		}
		return st, nil
	}
	v := q.Get("resourceVersion")
	if v == "" || v == "0" {
		return cur, nil
	}
	rv, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return nil, badRequest("resourceVersion: " + err.Error())
	}
	if rv > cur.Index() {
		wctx, cancel := context.WithTimeout(ctx, futureWait)
		_, werr := h.store.WaitIndex(wctx, rv-1)
		cancel()
		if werr != nil {
			return nil, apierrors.NewTimeoutError("Too large resource version: "+v+", this server is at "+
				strconv.FormatUint(cur.Index(), 10), 1)
		}
		cur = h.store.Snapshot()
	}
	switch m := q.Get("resourceVersionMatch"); m {
	case "", string(metav1.ResourceVersionMatchNotOlderThan):
		return cur, nil
	case string(metav1.ResourceVersionMatchExact):
		st, ok := h.history.at(res, rv, cur)
		if !ok {
			return nil, gone("resourceVersion " + v + " is too old")
		}
		return st, nil
	default:
		return nil, badRequest("resourceVersionMatch: unknown value " + strconv.Quote(m))
	}
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, res *resource, st State, f filter, rv uint64) {
	rvs := strconv.FormatUint(rv, 10)
	for _, it := range h.history.itemsOf(res, st) {
		if f.matches(&it) {
			if wantsTable(r.Header.Get("Accept")) {
				writeObject(w, http.StatusOK, tableOf(res, []item{it}, rvs, includeObject(r), h.now()))
				return
			}
			writeObject(w, http.StatusOK, it.object(rvs))
			return
		}
	}
	writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Resource: res.name}, f.name))
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, res *resource, st State, f filter, rv uint64) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeStatus(w, badRequest("limit: want a non-negative integer"))
			return
		}
		limit = n
	}
	all := h.history.itemsOf(res, st)
	start := 0
	if tok := q.Get("continue"); tok != "" {
		c, _ := decodeContinue(tok) // viewFor checked it
		start, _ = slices.BinarySearchFunc(all, c.After, func(it item, key string) int { return strings.Compare(it.sortKey, key) })
		if start < len(all) && all[start].sortKey == c.After {
			start++
		}
	}
	var page []item
	next := len(all)
	for i := start; i < len(all); i++ {
		if !f.matches(&all[i]) {
			continue
		}
		if limit > 0 && len(page) == limit {
			next = i
			break
		}
		page = append(page, all[i])
	}
	meta := metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)}
	if next < len(all) {
		meta.Continue = continueToken{RV: rv, After: page[len(page)-1].sortKey}.encode()
		remaining := int64(len(all) - next)
		if !f.everything() {
			remaining = 0
			for i := next; i < len(all); i++ {
				if f.matches(&all[i]) {
					remaining++
				}
			}
		}
		meta.RemainingItemCount = &remaining
	}
	if wantsTable(r.Header.Get("Accept")) {
		t := tableOf(res, page, meta.ResourceVersion, includeObject(r), h.now())
		t.ListMeta = meta
		writeObject(w, http.StatusOK, t)
		return
	}
	writeList(w, res, meta, page)
}

// writeList streams a {Kind}List: items are encoded one by one, never all held twice.
func writeList(w http.ResponseWriter, res *resource, meta metav1.ListMeta, page []item) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	head, _ := json.Marshal(struct {
		metav1.TypeMeta `json:",inline"`
		Meta            metav1.ListMeta `json:"metadata"`
	}{metav1.TypeMeta{Kind: res.kind + "List", APIVersion: "v1"}, meta})
	_, _ = w.Write(head[:len(head)-1])
	_, _ = w.Write([]byte(`,"items":[`))
	enc := json.NewEncoder(w)
	for i := range page {
		if i > 0 {
			_, _ = w.Write([]byte{','})
		}
		_ = enc.Encode(page[i].object(meta.ResourceVersion))
	}
	_, _ = w.Write([]byte("]}\n"))
}

// includeObject is the Table rows' object: Metadata by default, as Kubernetes does.
func includeObject(r *http.Request) metav1.IncludeObjectPolicy {
	switch v := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject")); v {
	case metav1.IncludeNone, metav1.IncludeObject:
		return v
	default:
		return metav1.IncludeMetadata
	}
}

// tableOf renders items as a meta.k8s.io/v1 Table; rv is their resourceVersion.
func tableOf(res *resource, items []item, rv string, inc metav1.IncludeObjectPolicy, now time.Time) *metav1.Table {
	t := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ListMeta:          metav1.ListMeta{ResourceVersion: rv},
		ColumnDefinitions: res.columns,
		Rows:              make([]metav1.TableRow, 0, len(items)),
	}
	for i := range items {
		row := metav1.TableRow{Cells: items[i].row(now)}
		switch inc {
		case metav1.IncludeObject:
			row.Object = rawOf(items[i].object(rv))
		case metav1.IncludeMetadata:
			row.Object = rawOf(partialMetadata(items[i].object(rv)))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// partialMetadata is the object's metadata alone (includeObject=Metadata): kubectl
// reads the namespace (for -A) and labels (for -L) from it.
func partialMetadata(obj runtime.Object) runtime.Object {
	m, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		return obj
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
		ObjectMeta: *m.GetObjectMeta().(*metav1.ObjectMeta),
	}
}
