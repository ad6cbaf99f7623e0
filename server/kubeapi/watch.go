package kubeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// bookmarkEvery is how often a quiet watch that allows bookmarks is told the current
// resourceVersion, so a client that reconnects resumes from a recent one.
const bookmarkEvery = 10 * time.Second

// watch streams WatchEvents for res from the store's blocking wait: each applied
// index that changed one of res's tables is diffed against the previous state by
// object key and content. An object that starts or stops matching the selectors is
// ADDED or DELETED, as Kubernetes does.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request, res *resource, f filter) {
	q := r.URL.Query()
	timeout := h.maxWatch
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeStatus(w, badRequest("timeoutSeconds: want a non-negative integer"))
			return
		}
		if n > 0 {
			timeout = min(timeout, time.Duration(n)*time.Second)
		}
	}
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	asTable := wantsTable(r.Header.Get("Accept"))
	inc := includeObject(r)

	cur := h.store.Snapshot()
	base, initial := cur, true
	if v := q.Get("resourceVersion"); v != "" && v != "0" {
		rv, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeStatus(w, badRequest("resourceVersion: "+err.Error()))
			return
		}
		st, ok := h.history.at(res, rv, cur)
		if !ok && rv > cur.Index() {
			st, ok = cur, true // a newer server's version: changes from now on
		}
		if !ok {
			writeStatus(w, gone("too old resource version: "+v+" (this server holds "+
				strconv.FormatUint(res.indexOf(cur), 10)+")"))
			return
		}
		base, initial = st, false
	}
	h.history.record(cur, h.now())

	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	first := true
	send := func(typ watch.EventType, it *item, rv string) bool {
		var obj runtime.Object
		switch {
		case it == nil:
			obj = &metav1.PartialObjectMetadata{TypeMeta: typeV1(res.kind), ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}}
		case asTable:
			t := tableOf(res, []item{*it}, rv, inc, h.now())
			if !first {
				t.ColumnDefinitions = nil // Kubernetes sends the columns once
			}
			first = false
			obj = t
		default:
			obj = it.object(rv)
		}
		if err := enc.Encode(metav1.WatchEvent{Type: string(typ), Object: rawOf(obj)}); err != nil {
			h.logger.Debug("watch ended: client gone", "resource", res.name, "err", err)
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}

	prev := map[string]item{}
	baseRV := strconv.FormatUint(res.indexOf(base), 10)
	for _, it := range h.history.itemsOf(res, base) {
		if f.matches(&it) {
			prev[it.sortKey] = it
			if initial && !send(watch.Added, &it, baseRV) {
				return
			}
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	seen := base
	for {
		wctx, wcancel := context.WithTimeout(ctx, bookmarkEvery)
		_, err := h.store.WaitIndex(wctx, seen.Index())
		wcancel()
		if ctx.Err() != nil {
			return
		}
		st := h.store.Snapshot()
		if err != nil || res.indexOf(st) == res.indexOf(seen) {
			if err != nil && bookmarks && !send(watch.Bookmark, nil, strconv.FormatUint(res.indexOf(st), 10)) {
				return
			}
			seen = st
			continue
		}
		h.history.record(st, h.now())
		rv := strconv.FormatUint(res.indexOf(st), 10)
		next := map[string]item{}
		for _, it := range h.history.itemsOf(res, st) {
			if !f.matches(&it) {
				continue
			}
			next[it.sortKey] = it
			old, had := prev[it.sortKey]
			switch {
			case !had:
				if !send(watch.Added, &it, rv) {
					return
				}
			case !equalSrc(old.src, it.src):
				if !send(watch.Modified, &it, rv) {
					return
				}
			}
		}
		for key, it := range prev {
			if _, ok := next[key]; !ok && !send(watch.Deleted, &it, rv) {
				return
			}
		}
		prev, seen = next, st
	}
}
