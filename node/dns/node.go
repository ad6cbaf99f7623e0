package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Running is a Server serving on a node's link-local address.
type Running struct {
	*Server
	stop func()
}

// Close stops serving and takes the address off lo.
func (r *Running) Close() { r.stop() }

// StartOnLoopback puts ip on the host's lo, binds a Server there on port 53 (UDP and
// TCP; cfg.Addr is ignored) and serves until ctx ends or Close. When the address
// cannot be bound it is taken off lo again only if this call put it there (another
// agent may be serving it); after serving, Close always removes it: this server held
// it, so nothing else used it (an earlier, killed agent may have added it).
func StartOnLoopback(ctx context.Context, ip netip.Addr, cfg Config) (*Running, error) {
	added, err := AddLoopbackAddress(ip)
	if err != nil {
		return nil, err
	}
	cfg.Addr = net.JoinHostPort(ip.String(), "53")
	srv := New(cfg)
	if err := srv.Listen(); err != nil {
		if added {
			_ = RemoveLoopbackAddress(ip)
		}
		return nil, fmt.Errorf("%w (agents sharing a host need distinct DNS addresses)", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx); err != nil {
			srv.log.Error("cluster DNS stopped", "err", err)
		}
	}()
	return &Running{Server: srv, stop: func() {
		cancel()
		<-done
		if err := RemoveLoopbackAddress(ip); err != nil {
			srv.log.Warn("remove the DNS address from lo", "err", err)
		}
	}}, nil
}
