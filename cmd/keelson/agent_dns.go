package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/keelson/keelson/node/dns"
)

// runningDNS is the agent's cluster DNS server; Close stops it and takes its address
// off lo.
type runningDNS struct {
	*dns.Server
	stop func()
}

func (r runningDNS) Close() { r.stop() }

// startClusterDNS puts --dns-address on lo, binds the node-local DNS server there
// (port 53, UDP and TCP) and serves until ctx ends or Close. When the address cannot
// be bound, it is taken off lo again only if this call put it there (another agent
// may be serving it).
func startClusterDNS(ctx context.Context, f agentFlags, log *slog.Logger) (*runningDNS, error) {
	ip := netip.MustParseAddr(f.dnsAddress) // checked by agentFlags.check
	ups := f.dnsUpstreams
	for i, u := range ups {
		if _, _, err := net.SplitHostPort(u); err != nil {
			ups[i] = net.JoinHostPort(u, "53")
		}
	}
	if len(ups) == 0 {
		var err error
		if ups, err = dns.UpstreamsFromResolvConf(f.resolvConf, f.dnsAddress); err != nil {
			log.Warn("no upstream resolvers: names outside the cluster will fail", "err", err)
		}
	}
	added, err := dns.AddLoopbackAddress(ip)
	if err != nil {
		return nil, err
	}
	srv := dns.New(dns.Config{Addr: net.JoinHostPort(ip.String(), "53"), Upstreams: ups, Logger: log})
	if err := srv.Listen(); err != nil {
		if added {
			_ = dns.RemoveLoopbackAddress(ip)
		}
		return nil, fmt.Errorf("%w (another agent on this host needs its own --dns-address)", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx); err != nil {
			log.Error("cluster DNS stopped", "err", err)
		}
	}()
	log.Info("cluster DNS serving", "address", srv.Addr(), "upstreams", ups)
	return &runningDNS{Server: srv, stop: func() {
		cancel()
		<-done
		// Removed even when an earlier agent (killed) had added it: this agent served
		// it, so no other process was using it.
		if err := dns.RemoveLoopbackAddress(ip); err != nil {
			log.Warn("remove the DNS address from lo", "err", err)
		}
	}}, nil
}
