package kubeapi

import (
	"sync"
	"time"
)

// history keeps the last few views this server answered from, and the items it built
// from them, so that a client continuing a paged list or starting a watch at the
// resourceVersion of its list is served from exactly that state (the store itself
// keeps no history: a memdb view is an immutable tree, so holding one costs only the
// records changed since). Older versions get 410 Gone and clients relist.
type history struct {
	mu    sync.Mutex
	snaps []heldState // ascending Index
	items []heldItems // newest last
}

type heldState struct {
	st State
	at time.Time
}

type heldItems struct {
	resource string
	rv       uint64
	items    []item
}

const (
	historySnapshots = 64
	historyAge       = 5 * time.Minute
	historyItemLists = 4 // a 100k-pod list is ~100 MB of items: keep few
)

func newHistory() *history { return &history{} }

// record remembers st (a view something was answered from).
func (h *history) record(st State, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.snaps); n > 0 && h.snaps[n-1].st.Index() >= st.Index() {
		return
	}
	h.snaps = append(h.snaps, heldState{st: st, at: now})
	drop := 0
	for drop < len(h.snaps) && (len(h.snaps)-drop > historySnapshots || now.Sub(h.snaps[drop].at) > historyAge) {
		drop++
	}
	h.snaps = append(h.snaps[:0], h.snaps[drop:]...)
}

// at returns a view in which res is exactly as it was at resourceVersion rv: one whose
// tables last changed at or before rv, taken at or after rv. cur is tried first.
func (h *history) at(res *resource, rv uint64, cur State) (State, bool) {
	holds := func(st State) bool { return res.indexOf(st) <= rv && rv <= st.Index() }
	if holds(cur) {
		return cur, true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.snaps) - 1; i >= 0; i-- {
		if holds(h.snaps[i].st) {
			return h.snaps[i].st, true
		}
	}
	return nil, false
}

// itemsOf returns res's sorted items in st, built once per resourceVersion: the pages
// of one paged list (kubectl asks 500 at a time) share them.
func (h *history) itemsOf(res *resource, st State) []item {
	rv := res.indexOf(st)
	h.mu.Lock()
	for _, e := range h.items {
		if e.resource == res.name && e.rv == rv {
			h.mu.Unlock()
			return e.items
		}
	}
	h.mu.Unlock()
	items := res.items(st)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.items = append(h.items, heldItems{resource: res.name, rv: rv, items: items})
	if len(h.items) > historyItemLists {
		h.items = append(h.items[:0], h.items[len(h.items)-historyItemLists:]...)
	}
	return items
}
