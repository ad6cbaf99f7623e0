// Package hostgw makes pod IPs reachable across nodes the way flannel's host-gw backend
// does on one L2 segment: every node routes each other node's pod CIDR via that node's
// address. Routes it installs carry a dedicated routing protocol number, so it can find,
// replace and remove exactly its own routes and never touches anybody else's.
package hostgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/keelson/keelson/api"
)

// Protocol is the rtm_protocol of Keelson's routes (shown as "proto 75" by `ip route`).
// Ownership is decided by it alone.
const Protocol uint8 = 0x4b

// Syncer keeps the routes to other nodes' pod CIDRs in the main routing table.
type Syncer struct {
	log   *slog.Logger
	netns string

	mu     sync.Mutex
	closed bool
}

// Option configures a Syncer.
type Option func(*Syncer)

// WithNetNS manages the routes of another network namespace (tests use private ones).
func WithNetNS(path string) Option { return func(s *Syncer) { s.netns = path } }

// New returns a Syncer. It holds no socket between calls: each Sync opens one, which
// costs microseconds and survives namespace or interface churn.
func New(logger *slog.Logger, opts ...Option) *Syncer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Syncer{log: logger}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Sync installs a route for each other node's PodCIDR via its Address and removes the
// routes of ours whose node is gone or whose PodCIDR or address changed. A node that
// cannot be routed (no CIDR yet, an address not on a connected network) is reported
// in the returned error without blocking the others.
func (s *Syncer) Sync(ctx context.Context, self string, nodes []api.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("hostgw: closed")
	}
	want := map[netip.Prefix]netip.Addr{}
	var errs []error
	for _, n := range nodes {
		if n.Name == self || n.PodCIDR == "" {
			continue
		}
		dst, err := netip.ParsePrefix(n.PodCIDR)
		gw, gerr := netip.ParseAddr(n.Address)
		if err != nil || gerr != nil || !dst.Addr().Is4() || !gw.Is4() {
			errs = append(errs, fmt.Errorf("hostgw: node %s: podCIDR %q via %q is not an IPv4 route", n.Name, n.PodCIDR, n.Address))
			continue
		}
		want[dst.Masked()] = gw
	}
	nl, err := openNetlink(s.netns)
	if err != nil {
		return fmt.Errorf("hostgw: %w", err)
	}
	defer nl.close()
	have, err := nl.list(Protocol)
	if err != nil {
		return fmt.Errorf("hostgw: list routes: %w", err)
	}
	current := map[netip.Prefix]netip.Addr{}
	for _, r := range have {
		if gw, ok := want[r.Dst]; !ok {
			if err := nl.del(r, Protocol); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("hostgw: delete route %s: %w", r.Dst, err))
				continue
			}
			s.log.Info("removed pod route", "cidr", r.Dst, "via", r.Gw)
		} else if gw == r.Gw {
			current[r.Dst] = r.Gw
		}
	}
	for dst, gw := range want {
		if current[dst] == gw {
			continue
		}
		if err := nl.replace(route{Dst: dst, Gw: gw}, Protocol); err != nil {
			errs = append(errs, fmt.Errorf("hostgw: route %s via %s: %w", dst, gw, err))
			continue
		}
		s.log.Info("installed pod route", "cidr", dst, "via", gw)
	}
	return errors.Join(errs...)
}

// Close removes every route this package installed (all routes with its protocol).
func (s *Syncer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	nl, err := openNetlink(s.netns)
	if err != nil {
		return fmt.Errorf("hostgw: %w", err)
	}
	defer nl.close()
	have, err := nl.list(Protocol)
	if err != nil {
		return fmt.Errorf("hostgw: list routes: %w", err)
	}
	var errs []error
	for _, r := range have {
		if err := nl.del(r, Protocol); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("hostgw: delete route %s: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}
