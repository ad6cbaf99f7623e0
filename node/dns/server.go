// Package dns is the node-local cluster DNS server: it answers the cluster zone
// authoritatively from the agent's own view of services and endpoints (no hop to a
// server, no API watch of its own) and forwards every other name to the host's
// resolvers through a small cache.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/keelson/keelson/api"
)

// Config configures a Server.
type Config struct {
	// Addr is the listen address, UDP and TCP (e.g. 169.254.20.10:53; tests :0).
	Addr string
	// Upstreams are the resolvers (host:port, or a bare address for port 53) for names
	// outside the cluster zone.
	Upstreams []string
	// ForwardTimeout bounds one upstream exchange, default 2s.
	ForwardTimeout time.Duration
	// CacheSize caps the forwarded answers kept, default 10,000; negative disables.
	CacheSize int
	Logger    *slog.Logger
	// Now is the cache's clock (tests); default time.Now.
	Now func() time.Time
}

// Server serves one node's pods. Update swaps the whole index at once.
type Server struct {
	cfg Config
	log *slog.Logger
	idx atomic.Pointer[Index]
	fwd *forwarder

	mu   sync.Mutex
	udp  *mdns.Server
	tcp  *mdns.Server
	addr net.Addr
}

// New makes a server with an empty index for the default domain.
func New(cfg Config) *Server {
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ups := make([]string, len(cfg.Upstreams))
	for i, u := range cfg.Upstreams {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(u, "53") // a bare address, as in resolv.conf
		}
		ups[i] = u
	}
	cfg.Upstreams = ups
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.fwd = newForwarder(cfg.Upstreams, cfg.ForwardTimeout, newCache(cfg.CacheSize, cfg.Now))
	s.idx.Store(Build("", nil, nil))
	return s
}

// Update rebuilds the records from a view's services and endpoints and swaps them in.
func (s *Server) Update(domain string, services []api.ServiceRecord, endpoints []api.Endpoints) {
	s.idx.Store(Build(domain, services, endpoints))
}

// Listen binds the UDP and TCP sockets, so that a bind error is reported at start.
func (s *Server) Listen() error {
	pc, err := net.ListenPacket("udp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("dns listen udp %s: %w", s.cfg.Addr, err)
	}
	// TCP on the very port UDP got (which matters when Addr asks for port 0).
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		_ = pc.Close()
		return fmt.Errorf("dns listen tcp %s: %w", pc.LocalAddr(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.udp = &mdns.Server{PacketConn: pc, Handler: s, ReadTimeout: 5 * time.Second}
	s.tcp = &mdns.Server{Listener: ln, Handler: s, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	s.addr = pc.LocalAddr()
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		return ""
	}
	return s.addr.String()
}

// Serve answers queries until ctx ends (Listen first).
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	udp, tcp := s.udp, s.tcp
	s.mu.Unlock()
	if udp == nil {
		return errors.New("dns: Serve before Listen")
	}
	errc := make(chan error, 2)
	go func() { errc <- udp.ActivateAndServe() }()
	go func() { errc <- tcp.ActivateAndServe() }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = udp.ShutdownContext(sctx)
	_ = tcp.ShutdownContext(sctx)
	return err
}

// ServeDNS answers one query: the cluster zone and known reverse names from the index,
// everything else through the forwarder. UDP answers larger than the client accepts
// are truncated (TC set) so the client retries over TCP.
func (s *Server) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.ForwardTimeout)
	defer cancel()
	m := s.Answer(ctx, r)
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		size := mdns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), mdns.MinMsgSize)
		}
		m.Truncate(size)
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns write", "err", err)
	}
}

// Answer computes the response to r (exported for benchmarks of the lookup path).
func (s *Server) Answer(ctx context.Context, r *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	if r.Opcode != mdns.OpcodeQuery || len(r.Question) != 1 {
		m.SetRcode(r, mdns.RcodeNotImplemented)
		return m
	}
	q := r.Question[0]
	idx := s.idx.Load()
	qname := strings.ToLower(q.Name)
	res := resolver{idx: idx, upstream: s.upstreamQuestion}
	switch {
	case q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY:
		m.SetRcode(r, mdns.RcodeRefused)
	case idx.InZone(qname):
		m.SetReply(r)
		res.answer(ctx, m, q)
	default:
		m.SetReply(r)
		if !res.answerPTR(m, q) {
			return s.fwd.forward(ctx, r)
		}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(max(opt.UDPSize(), mdns.MinMsgSize), false)
	}
	return m
}

// upstreamQuestion resolves an ExternalName target outside the zone.
func (s *Server) upstreamQuestion(ctx context.Context, q mdns.Question) *mdns.Msg {
	r := new(mdns.Msg)
	r.SetQuestion(q.Name, q.Qtype)
	r.RecursionDesired = true
	return s.fwd.forward(ctx, r)
}
