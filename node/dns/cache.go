package dns

import (
	"container/list"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// maxCacheTTL bounds how long an upstream answer is kept whatever its TTL says, so a
// record with a TTL of days cannot pin a stale address for days.
const maxCacheTTL = time.Hour

// negativeTTL is used for a negative answer without an SOA to take the TTL from.
const negativeTTL = 5 * time.Second

// cache keeps upstream answers for their TTL (the smallest in the message, or the SOA
// minimum of a negative answer, RFC 2308), at most size entries, least recently used
// out first. Answers are returned with their TTLs reduced by their age in the cache.
type cache struct {
	size int
	now  func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, most recent at the front
	byKey map[cacheKey]*list.Element
}

type cacheKey struct {
	name          string
	qtype, qclass uint16
}

type cacheEntry struct {
	key     cacheKey
	msg     *mdns.Msg
	stored  time.Time
	expires time.Time
}

func newCache(size int, now func() time.Time) *cache {
	return &cache{size: size, now: now, lru: list.New(), byKey: map[cacheKey]*list.Element{}}
}

func keyOf(q mdns.Question) cacheKey {
	return cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass}
}

// get returns a copy of the cached answer to q with aged TTLs, or nil.
func (c *cache) get(q mdns.Question) *mdns.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.byKey[keyOf(q)]
	if el == nil {
		return nil
	}
	e := el.Value.(*cacheEntry)
	now := c.now()
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		return nil
	}
	c.lru.MoveToFront(el)
	m := e.msg.Copy()
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != mdns.TypeOPT {
				h.Ttl -= min(age, h.Ttl)
			}
		}
	}
	return m
}

// put stores an upstream answer to q when it is cacheable (NOERROR or NXDOMAIN, not
// truncated, TTL above zero).
func (c *cache) put(q mdns.Question, m *mdns.Msg) {
	if c.size <= 0 || m.Truncated || (m.Rcode != mdns.RcodeSuccess && m.Rcode != mdns.RcodeNameError) {
		return
	}
	ttl := cacheTTL(m)
	if ttl <= 0 {
		return
	}
	now := c.now()
	e := &cacheEntry{key: keyOf(q), msg: m.Copy(), stored: now, expires: now.Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.byKey[e.key]; el != nil {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.byKey[e.key] = c.lru.PushFront(e)
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.byKey, old.Value.(*cacheEntry).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// cacheTTL is how long m may be kept.
func cacheTTL(m *mdns.Msg) time.Duration {
	if len(m.Answer) == 0 { // negative (NXDOMAIN or NODATA): the SOA says
		for _, rr := range m.Ns {
			if soa, ok := rr.(*mdns.SOA); ok {
				return min(time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second, maxCacheTTL)
			}
		}
		return negativeTTL
	}
	ttl := maxCacheTTL
	for _, sec := range [][]mdns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
		}
	}
	return ttl
}
