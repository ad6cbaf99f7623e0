package dns

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// upstream is a real DNS server on 127.0.0.1 standing in for the host's resolver: it
// answers outside.test and big.test (40 A records, too many for 512 bytes), NXDOMAIN
// otherwise, and counts the queries it gets.
type upstream struct {
	addr    string
	queries atomic.Int64
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		u.queries.Add(1)
		m := new(mdns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch {
		case q.Name == "outside.test." && q.Qtype == mdns.TypeA:
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 7)})
		case q.Name == "api.example.test." && q.Qtype == mdns.TypeA:
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 9)})
		case q.Name == "big.test.":
			for i := range 40 {
				m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, byte(i+1))})
			}
		default:
			m.Rcode = mdns.RcodeNameError
			m.Ns = append(m.Ns, &mdns.SOA{Hdr: mdns.RR_Header{Name: "test.", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: 30},
				Ns: "ns.test.", Mbox: "h.test.", Minttl: 10})
		}
		if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
			m.Truncate(512)
		}
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	us := &mdns.Server{PacketConn: pc, Handler: h}
	ts := &mdns.Server{Listener: ln, Handler: h}
	go func() { _ = us.ActivateAndServe() }()
	go func() { _ = ts.ActivateAndServe() }()
	t.Cleanup(func() { _ = us.Shutdown(); _ = ts.Shutdown() })
	u.addr = pc.LocalAddr().String()
	return u
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startServer runs a Server on 127.0.0.1 with the fixture's records.
func startServer(t *testing.T, up *upstream, clock *fakeClock) *Server {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", Now: clock.now}
	if up != nil {
		cfg.Upstreams = []string{up.addr}
	}
	s := New(cfg)
	svcs, eps := fixture()
	s.Update("", svcs, eps)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func query(t *testing.T, network, addr, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: network, Timeout: 5 * time.Second}
	r := new(mdns.Msg)
	r.SetQuestion(name, qtype)
	m, _, err := c.Exchange(r, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, mdns.TypeToString[qtype], err)
	}
	return m
}

func TestServerAnswersOverUDPAndTCP(t *testing.T) {
	s := startServer(t, nil, &fakeClock{t: time.Unix(1e9, 0)})
	for _, network := range []string{"udp", "tcp"} {
		m := query(t, network, s.Addr(), "backend.default.svc.cluster.local.", mdns.TypeA)
		if got := rrs(m); len(got) != 1 || got[0] != "backend.default.svc.cluster.local. A 10.96.0.10" {
			t.Errorf("%s: %q", network, got)
		}
		m = query(t, network, s.Addr(), "missing.default.svc.cluster.local.", mdns.TypeA)
		if m.Rcode != mdns.RcodeNameError || !m.Authoritative {
			t.Errorf("%s: missing name: %s authoritative=%v", network, mdns.RcodeToString[m.Rcode], m.Authoritative)
		}
	}
}

// TestServerUpdateSwaps checks a new view replaces the records as a whole.
func TestServerUpdateSwaps(t *testing.T) {
	s := startServer(t, nil, &fakeClock{t: time.Unix(1e9, 0)})
	s.Update("", []api.ServiceRecord{{Namespace: "default", Name: "backend", Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.99"}}}, nil)
	if got := rrs(query(t, "udp", s.Addr(), "backend.default.svc.cluster.local.", mdns.TypeA)); len(got) != 1 || got[0] != "backend.default.svc.cluster.local. A 10.96.0.99" {
		t.Fatalf("after update: %q", got)
	}
	if m := query(t, "udp", s.Addr(), "db.shop.svc.cluster.local.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Fatalf("a service gone from the view still answers: %v", m)
	}
}

// TestServerTruncatesLargeUDPAnswers: a headless service with 60 pods does not fit in
// 512 bytes; over UDP the answer is truncated with TC set, over TCP it is whole.
func TestServerTruncatesLargeUDPAnswers(t *testing.T) {
	s := startServer(t, nil, &fakeClock{t: time.Unix(1e9, 0)})
	ep := api.Endpoints{Namespace: "default", Name: "many"}
	for i := range 60 {
		ep.Ports = append(ep.Ports, api.Endpoint{IP: "10.244.0." + strconv.Itoa(i+2), Ready: true})
	}
	s.Update("", []api.ServiceRecord{{Namespace: "default", Name: "many", Spec: corev1.ServiceSpec{ClusterIP: "None"}}}, []api.Endpoints{ep})
	u := query(t, "udp", s.Addr(), "many.default.svc.cluster.local.", mdns.TypeA)
	if !u.Truncated || len(u.Answer) >= 60 {
		t.Fatalf("udp: truncated=%v with %d answers", u.Truncated, len(u.Answer))
	}
	if tc := query(t, "tcp", s.Addr(), "many.default.svc.cluster.local.", mdns.TypeA); tc.Truncated || len(tc.Answer) != 60 {
		t.Fatalf("tcp: truncated=%v with %d answers", tc.Truncated, len(tc.Answer))
	}
}

func TestServerForwardsAndCaches(t *testing.T) {
	up := startUpstream(t)
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	s := startServer(t, up, clock)

	m := query(t, "udp", s.Addr(), "outside.test.", mdns.TypeA)
	if got := rrs(m); len(got) != 1 || got[0] != "outside.test. A 192.0.2.7" {
		t.Fatalf("forwarded: %q", got)
	}
	if m.Authoritative {
		t.Error("a forwarded answer claims authority")
	}
	clock.add(20 * time.Second)
	m = query(t, "udp", s.Addr(), "OUTSIDE.test.", mdns.TypeA)
	if up.queries.Load() != 1 {
		t.Fatalf("upstream asked %d times, want 1 (cached)", up.queries.Load())
	}
	if ttl := m.Answer[0].Header().Ttl; ttl != 40 {
		t.Fatalf("cached TTL %d, want 60-20=40", ttl)
	}
	clock.add(41 * time.Second)
	query(t, "udp", s.Addr(), "outside.test.", mdns.TypeA)
	if up.queries.Load() != 2 {
		t.Fatalf("upstream asked %d times after the TTL expired, want 2", up.queries.Load())
	}

	// Negative answers are cached for the SOA minimum (10 s here).
	before := up.queries.Load()
	if m := query(t, "udp", s.Addr(), "nothing.test.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Fatalf("upstream NXDOMAIN came back as %s", mdns.RcodeToString[m.Rcode])
	}
	query(t, "udp", s.Addr(), "nothing.test.", mdns.TypeA)
	if up.queries.Load() != before+1 {
		t.Fatalf("NXDOMAIN not cached: %d upstream queries", up.queries.Load()-before)
	}

	// Cluster names never go upstream, even when missing.
	before = up.queries.Load()
	query(t, "udp", s.Addr(), "gone.default.svc.cluster.local.", mdns.TypeA)
	if up.queries.Load() != before {
		t.Fatal("a cluster name was forwarded")
	}

	// An ExternalName to an outside name is answered with the CNAME and the target's
	// address from upstream.
	got := rrs(query(t, "udp", s.Addr(), "ext.default.svc.cluster.local.", mdns.TypeA))
	if len(got) != 2 || got[0] != "api.example.test. A 192.0.2.9" || got[1] != "ext.default.svc.cluster.local. CNAME api.example.test." {
		t.Fatalf("ExternalName chase: %q", got)
	}
}

// TestServerForwardTruncatedOverTCP: the upstream truncates big.test over UDP; the
// forwarder retries over TCP and a TCP client gets all 40 records.
func TestServerForwardTruncatedOverTCP(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up, &fakeClock{t: time.Unix(1e9, 0)})
	if m := query(t, "tcp", s.Addr(), "big.test.", mdns.TypeA); len(m.Answer) != 40 || m.Truncated {
		t.Fatalf("tcp: %d answers, truncated=%v", len(m.Answer), m.Truncated)
	}
	if m := query(t, "udp", s.Addr(), "big.test.", mdns.TypeA); !m.Truncated {
		t.Fatalf("udp: %d answers and not truncated", len(m.Answer))
	}
}

func TestServerUpstreamDownIsServfail(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := New(Config{Addr: "127.0.0.1:0", Upstreams: []string{pc.LocalAddr().String()}, ForwardTimeout: 200 * time.Millisecond})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Serve(ctx) }()
	if m := query(t, "udp", s.Addr(), "outside.test.", mdns.TypeA); m.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", mdns.RcodeToString[m.Rcode])
	}
}

func TestCacheCapsSize(t *testing.T) {
	c := newCache(3, (&fakeClock{t: time.Unix(1e9, 0)}).now)
	for i := range 5 {
		q := mdns.Question{Name: "n" + strconv.Itoa(i) + ".test.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET}
		m := new(mdns.Msg)
		m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
		c.put(q, m)
	}
	if c.len() != 3 {
		t.Fatalf("cache holds %d, cap 3", c.len())
	}
	if c.get(mdns.Question{Name: "n0.test.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET}) != nil {
		t.Fatal("the least recently used entry was kept")
	}
	if c.get(mdns.Question{Name: "n4.test.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET}) == nil {
		t.Fatal("the newest entry was evicted")
	}
}

func TestUpstreamsFromResolvConf(t *testing.T) {
	p := t.TempDir() + "/resolv.conf"
	if err := writeFile(p, "search example.com\nnameserver 10.0.0.2\nnameserver 169.254.20.10\nnameserver 10.0.0.3\n"); err != nil {
		t.Fatal(err)
	}
	got, err := UpstreamsFromResolvConf(p, "169.254.20.10")
	if err != nil || len(got) != 2 || got[0] != "10.0.0.2:53" || got[1] != "10.0.0.3:53" {
		t.Fatalf("%q %v", got, err)
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }

// TestServerEDNSAndOddQueries: a client announcing a 4096-byte buffer gets all 60
// records over UDP; other opcodes are NOTIMP and other classes REFUSED.
func TestServerEDNSAndOddQueries(t *testing.T) {
	s := startServer(t, nil, &fakeClock{t: time.Unix(1e9, 0)})
	ep := api.Endpoints{Namespace: "default", Name: "many"}
	for i := range 60 {
		ep.Ports = append(ep.Ports, api.Endpoint{IP: "10.244.0." + strconv.Itoa(i+2), Ready: true})
	}
	s.Update("", []api.ServiceRecord{{Namespace: "default", Name: "many", Spec: corev1.ServiceSpec{ClusterIP: "None"}}}, []api.Endpoints{ep})
	c := &mdns.Client{Net: "udp", Timeout: 5 * time.Second}
	r := new(mdns.Msg)
	r.SetQuestion("many.default.svc.cluster.local.", mdns.TypeA)
	r.SetEdns0(4096, false)
	m, _, err := c.Exchange(r, s.Addr())
	if err != nil || m.Truncated || len(m.Answer) != 60 || m.IsEdns0() == nil {
		t.Fatalf("EDNS0 4096: err %v truncated=%v answers=%d opt=%v", err, m.Truncated, len(m.Answer), m.IsEdns0())
	}
	r = new(mdns.Msg)
	r.SetQuestion("backend.default.svc.cluster.local.", mdns.TypeA)
	r.Question[0].Qclass = mdns.ClassCHAOS
	if m, _, err := c.Exchange(r, s.Addr()); err != nil || m.Rcode != mdns.RcodeRefused {
		t.Fatalf("CHAOS class: %v %v", m, err)
	}
	r = new(mdns.Msg)
	r.SetNotify("cluster.local.")
	if m, _, err := c.Exchange(r, s.Addr()); err != nil || m.Rcode != mdns.RcodeNotImplemented {
		t.Fatalf("NOTIFY: %v %v", m, err)
	}
}
