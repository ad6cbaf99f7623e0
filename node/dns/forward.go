package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	mdns "github.com/miekg/dns"
)

// forwarder sends names outside the cluster zone to the host's resolvers, in order,
// over UDP and again over TCP when the answer is truncated, and caches the answers.
type forwarder struct {
	upstreams []string // host:port
	udp, tcp  *mdns.Client
	cache     *cache
}

func newForwarder(upstreams []string, timeout time.Duration, c *cache) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		udp:       &mdns.Client{Net: "udp", Timeout: timeout, UDPSize: mdns.DefaultMsgSize},
		tcp:       &mdns.Client{Net: "tcp", Timeout: timeout},
		cache:     c,
	}
}

// UpstreamsFromResolvConf reads the nameservers of a resolv.conf (the host's
// /etc/resolv.conf in production) as host:port, leaving out skip (the node's own
// DNS address: forwarding to ourselves would loop).
func UpstreamsFromResolvConf(path, skip string) ([]string, error) {
	cc, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read resolvers from %s: %w", path, err)
	}
	var out []string
	for _, s := range cc.Servers {
		if s == skip {
			continue
		}
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out, nil
}

// forward answers r from the cache or the first upstream that answers. The answer
// keeps r's ID; with no upstream reachable it is SERVFAIL.
func (f *forwarder) forward(ctx context.Context, r *mdns.Msg) *mdns.Msg {
	q := r.Question[0]
	if m := f.cache.get(q); m != nil {
		m.Id = r.Id
		return m
	}
	m, err := f.exchange(ctx, r)
	if err != nil {
		fail := new(mdns.Msg)
		fail.SetRcode(r, mdns.RcodeServerFailure)
		return fail
	}
	f.cache.put(q, m)
	m.Id = r.Id
	return m
}

func (f *forwarder) exchange(ctx context.Context, r *mdns.Msg) (*mdns.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, errors.New("no upstream resolvers")
	}
	req := r.Copy()
	req.Id = mdns.Id()
	var errs []error
	for _, up := range f.upstreams {
		m, _, err := f.udp.ExchangeContext(ctx, req, up)
		if err == nil && m.Truncated {
			m, _, err = f.tcp.ExchangeContext(ctx, req, up)
		}
		if err == nil && m.Rcode != mdns.RcodeServerFailure && m.Rcode != mdns.RcodeRefused {
			return m, nil
		}
		if err == nil {
			err = fmt.Errorf("%s answered %s", up, mdns.RcodeToString[m.Rcode])
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
