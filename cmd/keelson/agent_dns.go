package main

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/keelson/keelson/node/dns"
)

// startClusterDNS serves the node-local cluster DNS on --dns-address, forwarding to
// --dns-upstream or else the nameservers of --resolv-conf.
func startClusterDNS(ctx context.Context, f agentFlags, log *slog.Logger) (*dns.Running, error) {
	ups := f.dnsUpstreams
	if len(ups) == 0 {
		var err error
		if ups, err = dns.UpstreamsFromResolvConf(f.resolvConf, f.dnsAddress); err != nil {
			log.Warn("no upstream resolvers: names outside the cluster will fail", "err", err)
		}
	}
	d, err := dns.StartOnLoopback(ctx, netip.MustParseAddr(f.dnsAddress), dns.Config{Upstreams: ups, Logger: log})
	if err != nil {
		return nil, err
	}
	log.Info("cluster DNS serving", "address", d.Addr(), "upstreams", ups)
	return d, nil
}
