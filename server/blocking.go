package server

import (
	"fmt"
	"net"
	"net/http"
	"sync"
)

// Caps on blocking queries held open at once. Each costs a goroutine and a connection
// for up to MaxWait, so without caps one client could hold thousands. An agent holds a
// handful, a CLI --watch one each; the total allows a few thousand nodes per server.
const (
	maxBlockingPerClient = 100
	maxBlockingTotal     = 10_000
)

// blockingLimiter counts the blocking queries in flight, per client and in total.
type blockingLimiter struct {
	perClient, total int

	mu     sync.Mutex
	n      int
	client map[string]int
}

func newBlockingLimiter(perClient, total int) *blockingLimiter {
	return &blockingLimiter{perClient: perClient, total: total, client: map[string]int{}}
}

// acquire takes a slot for client, or says which cap is reached.
func (l *blockingLimiter) acquire(client string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.client[client] >= l.perClient:
		return nil, fmt.Errorf("too many blocking queries from %s: at most %d at once; retry after one returns", client, l.perClient)
	case l.n >= l.total:
		return nil, fmt.Errorf("too many blocking queries on this server: at most %d at once; retry later or use another server", l.total)
	}
	l.n++
	l.client[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.n--
			if l.client[client]--; l.client[client] == 0 {
				delete(l.client, client)
			}
		})
	}, nil
}

// clientOf names the client a request counts against: the subject of its TLS client
// certificate when it has one (each node has its own), else its remote IP (agents
// behind one address then share a budget).
func clientOf(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return "certificate " + r.TLS.PeerCertificates[0].Subject.CommonName
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
