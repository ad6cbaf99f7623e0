package proxy

import (
	"net/netip"
	"sync"
	"time"
)

// balancer picks a backend for each new userspace connection or UDP session:
// round-robin over ready backends, or, with ClientIP affinity, the backend this client
// used within the timeout. Backends are replaced live by update; connections already
// open are not its business (they keep their backend until they end).
type balancer struct {
	mu       sync.Mutex
	backends []backend
	next     int
	affinity time.Duration
	clients  map[netip.Addr]affinityEntry
	now      func() time.Time
}

type affinityEntry struct {
	backend  backend
	lastUsed time.Time
}

func newBalancer(affinity time.Duration) *balancer {
	return &balancer{affinity: affinity, clients: map[netip.Addr]affinityEntry{}, now: time.Now}
}

// update replaces the backend list. Affinity entries to backends that are gone are
// dropped so those clients are re-balanced.
func (b *balancer) update(backends []backend, affinity time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append([]backend(nil), backends...)
	if affinity != b.affinity {
		b.clients = map[netip.Addr]affinityEntry{}
		b.affinity = affinity
	}
	live := map[backend]bool{}
	for _, be := range backends {
		live[be] = true
	}
	for c, e := range b.clients {
		if !live[e.backend] {
			delete(b.clients, c)
		}
	}
}

// pick returns the backend for a new connection from client, false when there is none.
func (b *balancer) pick(client netip.Addr) (backend, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.backends) == 0 {
		return backend{}, false
	}
	now := b.now()
	if b.affinity > 0 {
		if e, ok := b.clients[client]; ok && now.Sub(e.lastUsed) < b.affinity {
			e.lastUsed = now
			b.clients[client] = e
			return e.backend, true
		}
	}
	be := b.backends[b.next%len(b.backends)]
	b.next++
	if b.affinity > 0 {
		b.clients[client] = affinityEntry{backend: be, lastUsed: now}
		b.gc(now)
	}
	return be, true
}

// gc drops expired affinity entries once the table has grown, so a scan is paid only
// once per doubling rather than on every connection.
func (b *balancer) gc(now time.Time) {
	if len(b.clients) < 1024 || len(b.clients)%1024 != 0 {
		return
	}
	for c, e := range b.clients {
		if now.Sub(e.lastUsed) >= b.affinity {
			delete(b.clients, c)
		}
	}
}
