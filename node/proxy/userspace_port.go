package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
)

const (
	// dialTimeout bounds a connection attempt to one backend before trying the next.
	dialTimeout = 3 * time.Second
	// udpIdleTimeout ends a UDP session (and frees its backend socket) after this long
	// without a datagram in either direction, as conntrack's UDP timeout does.
	udpIdleTimeout = 60 * time.Second
)

// portProxy serves one service port: its listeners, its balancer and the connections
// it opened, so that removing the Service closes exactly those.
type portProxy struct {
	id   string
	ns   string
	spec listenSpec
	bal  *balancer
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	listeners []io.Closer
	open      map[io.Closer]struct{}
}

func startPortProxy(ns, id string, spec listenSpec, bal *balancer, log *slog.Logger) (*portProxy, error) {
	ctx, cancel := context.WithCancel(context.Background())
	pp := &portProxy{id: id, ns: ns, spec: spec, bal: bal, log: log.With("servicePort", id),
		ctx: ctx, cancel: cancel, open: map[io.Closer]struct{}{}}
	addrs := []string{netip.AddrPortFrom(spec.ClusterIP, spec.Port).String()}
	if spec.NodePort != 0 {
		addrs = append(addrs, netip.AddrPortFrom(spec.NodeAddr, spec.NodePort).String())
	}
	for _, a := range addrs {
		if err := pp.listen(a); err != nil {
			pp.close()
			return nil, fmt.Errorf("userspace proxy %s: listen %s: %w", id, a, err)
		}
	}
	return pp, nil
}

func (pp *portProxy) listen(addr string) error {
	if pp.spec.Protocol == corev1.ProtocolUDP {
		pc, err := listenUDP(pp.ns, addr)
		if err != nil {
			return err
		}
		pp.listeners = append(pp.listeners, pc)
		pp.wg.Add(1)
		go pp.serveUDP(pc)
		return nil
	}
	l, err := listenTCP(pp.ns, addr)
	if err != nil {
		return err
	}
	pp.listeners = append(pp.listeners, l)
	pp.wg.Add(1)
	go pp.serveTCP(l)
	return nil
}

// close stops the listeners and every connection and session of this port, and waits
// for their goroutines.
func (pp *portProxy) close() {
	pp.cancel()
	pp.mu.Lock()
	for _, l := range pp.listeners {
		_ = l.Close()
	}
	for c := range pp.open {
		_ = c.Close()
	}
	pp.mu.Unlock()
	pp.wg.Wait()
}

// track registers c to be closed by close; it reports false (and closes c) when the
// port is already closing.
func (pp *portProxy) track(c io.Closer) bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.ctx.Err() != nil {
		_ = c.Close()
		return false
	}
	pp.open[c] = struct{}{}
	return true
}

func (pp *portProxy) untrack(c io.Closer) {
	pp.mu.Lock()
	delete(pp.open, c)
	pp.mu.Unlock()
	_ = c.Close()
}

func (pp *portProxy) serveTCP(l net.Listener) {
	defer pp.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if pp.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				pp.log.Warn("accept failed", "err", err)
			}
			return
		}
		if !pp.track(c) {
			return
		}
		pp.wg.Add(1)
		go pp.forwardTCP(c)
	}
}

// forwardTCP connects the client to a backend, trying the others if one refuses, and
// copies both ways with half-close so request/response protocols see EOF correctly.
func (pp *portProxy) forwardTCP(client net.Conn) {
	defer pp.wg.Done()
	defer pp.untrack(client)
	clientIP := addrIP(client.RemoteAddr())
	var backendConn net.Conn
	for attempt := 0; attempt < 3 && backendConn == nil; attempt++ {
		be, ok := pp.bal.pick(clientIP)
		if !ok {
			return // no ready endpoint: the client sees the connection closed
		}
		ctx, cancel := context.WithTimeout(pp.ctx, dialTimeout)
		c, err := dialNS(ctx, pp.ns, "tcp4", be.String())
		cancel()
		if err != nil {
			pp.log.Debug("backend dial failed", "backend", be, "err", err)
			continue
		}
		backendConn = c
	}
	if backendConn == nil || !pp.track(backendConn) {
		return
	}
	defer pp.untrack(backendConn)
	done := make(chan struct{})
	go func() {
		copyHalf(backendConn, client)
		close(done)
	}()
	copyHalf(client, backendConn)
	<-done
}

// copyHalf copies src to dst, then half-closes dst's write side.
func copyHalf(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

// udpSession is one client's flow through a UDP service port.
type udpSession struct {
	backend  net.Conn
	lastSeen atomic.Int64 // unix nanoseconds of the last datagram either way
}

func (pp *portProxy) serveUDP(pc net.PacketConn) {
	defer pp.wg.Done()
	var mu sync.Mutex
	sessions := map[string]*udpSession{}
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if pp.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				pp.log.Warn("udp read failed", "err", err)
			}
			return
		}
		key := from.String()
		mu.Lock()
		s := sessions[key]
		mu.Unlock()
		if s == nil {
			be, ok := pp.bal.pick(addrIP(from))
			if !ok {
				continue
			}
			c, err := dialNS(pp.ctx, pp.ns, "udp4", be.String())
			if err != nil {
				pp.log.Debug("backend dial failed", "backend", be, "err", err)
				continue
			}
			if !pp.track(c) {
				return
			}
			s = &udpSession{backend: c}
			s.lastSeen.Store(time.Now().UnixNano())
			mu.Lock()
			sessions[key] = s
			mu.Unlock()
			pp.wg.Add(1)
			go func() {
				defer pp.wg.Done()
				pp.udpReplies(pc, from, s)
				mu.Lock()
				delete(sessions, key)
				mu.Unlock()
				pp.untrack(c)
			}()
		}
		s.lastSeen.Store(time.Now().UnixNano())
		if _, err := s.backend.Write(buf[:n]); err != nil {
			pp.log.Debug("udp write to backend failed", "err", err)
		}
	}
}

// udpReplies relays the backend's datagrams to the client until the session idles out.
func (pp *portProxy) udpReplies(pc net.PacketConn, client net.Addr, s *udpSession) {
	buf := make([]byte, 64<<10)
	for {
		_ = s.backend.SetReadDeadline(time.Now().Add(udpIdleTimeout))
		n, err := s.backend.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, s.lastSeen.Load())) < udpIdleTimeout {
				continue
			}
			return
		}
		s.lastSeen.Store(time.Now().UnixNano())
		if _, err := pc.WriteTo(buf[:n], client); err != nil {
			return
		}
	}
}

func addrIP(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
