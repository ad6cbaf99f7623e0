package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"

	"github.com/keelson/keelson/node/netns"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// Userspace is the fallback data path for machines without nftables. Each ClusterIP is
// bound as a /32 on lo so that a plain listener can own ClusterIP:port (packets from
// pods reach it because the address is local); NodePorts listen on the node address.
// Accepted connections are copied to a backend chosen by a balancer. Endpoint updates
// only swap the balancer's list, so open connections are never cut.
type Userspace struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	ports  map[string]*portProxy // by servicePort ID
	addrs  map[netip.Addr]bool   // ClusterIPs this proxy added to lo
	closed bool
}

// listenSpec is what a portProxy listens on; a change means new listeners.
type listenSpec struct {
	ClusterIP netip.Addr
	Port      uint16
	Protocol  corev1.Protocol
	NodeAddr  netip.Addr // invalid when there is no NodePort
	NodePort  uint16
}

// NewUserspace makes the userspace proxy. It needs the `ip` tool (iproute2) to bind
// ClusterIPs on lo.
func NewUserspace(cfg Config) (*Userspace, error) {
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("userspace proxy: %w", err)
	}
	return &Userspace{cfg: cfg, log: cfg.logger(), ports: map[string]*portProxy{}, addrs: map[netip.Addr]bool{}}, nil
}

// Sync makes the listeners match the Services and hands each its ready backends.
// A listener that cannot be opened is reported (joined into the error) without
// stopping the others.
func (u *Userspace) Sync(ctx context.Context, services []api.ServiceRecord, endpoints []api.Endpoints, nodeAddress string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ports, skipped := buildModel(services, endpoints)
	for _, err := range skipped {
		u.log.Warn("service not proxied", "err", err)
	}
	var node netip.Addr
	if nodeAddress != "" {
		a, err := netip.ParseAddr(nodeAddress)
		if err != nil || !a.Is4() {
			return fmt.Errorf("userspace proxy: node address %q is not IPv4", nodeAddress)
		}
		node = a
	}

	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return errors.New("userspace proxy: closed")
	}
	var errs []error
	wantAddrs := map[netip.Addr]bool{}
	wantPorts := map[string]bool{}
	for _, sp := range ports {
		if sp.Protocol != corev1.ProtocolTCP && sp.Protocol != corev1.ProtocolUDP {
			u.log.Warn("userspace proxy supports TCP and UDP only", "servicePort", sp.ID)
			continue
		}
		spec := listenSpec{ClusterIP: sp.ClusterIP, Port: sp.Port, Protocol: sp.Protocol}
		if sp.NodePort != 0 && node.IsValid() {
			spec.NodeAddr, spec.NodePort = node, sp.NodePort
		}
		wantAddrs[sp.ClusterIP] = true
		if err := u.ensureAddr(sp.ClusterIP); err != nil {
			errs = append(errs, err)
			continue
		}
		wantPorts[sp.ID] = true
		if pp := u.ports[sp.ID]; pp != nil && pp.spec == spec {
			pp.bal.update(sp.Backends, sp.Affinity)
			continue
		} else if pp != nil {
			pp.close()
			delete(u.ports, sp.ID)
		}
		bal := newBalancer(sp.Affinity)
		bal.update(sp.Backends, sp.Affinity)
		pp, err := startPortProxy(u.cfg.NetNSPath, sp.ID, spec, bal, u.log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		u.ports[sp.ID] = pp
	}
	for id, pp := range u.ports {
		if !wantPorts[id] {
			pp.close()
			delete(u.ports, id)
		}
	}
	for a := range u.addrs {
		if !wantAddrs[a] {
			if err := u.delAddr(a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops every listener and open connection and removes the addresses it added.
func (u *Userspace) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	u.closed = true
	for id, pp := range u.ports {
		pp.close()
		delete(u.ports, id)
	}
	var errs []error
	for a := range u.addrs {
		if err := u.delAddr(a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (u *Userspace) ensureAddr(a netip.Addr) error {
	if u.addrs[a] {
		return nil
	}
	err := u.ip("addr", "add", a.String()+"/32", "dev", "lo")
	if err != nil && !strings.Contains(err.Error(), "File exists") {
		return fmt.Errorf("userspace proxy: bind %s on lo: %w", a, err)
	}
	// An address already there (left by a crashed agent) is adopted: it is ours.
	u.addrs[a] = true
	return nil
}

func (u *Userspace) delAddr(a netip.Addr) error {
	delete(u.addrs, a)
	if err := u.ip("addr", "del", a.String()+"/32", "dev", "lo"); err != nil && !strings.Contains(err.Error(), "Cannot assign") {
		return fmt.Errorf("userspace proxy: remove %s from lo: %w", a, err)
	}
	return nil
}

// ip runs iproute2 inside the proxy's namespace (a child forked from a thread that
// entered a namespace starts in it).
func (u *Userspace) ip(args ...string) error {
	return netns.Do(u.cfg.NetNSPath, func() error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	})
}

// listenTCP, listenUDP and dialNS create sockets inside the proxy's namespace.
func listenTCP(ns string, addr string) (net.Listener, error) {
	var l net.Listener
	err := netns.Do(ns, func() error {
		var err error
		l, err = net.Listen("tcp4", addr)
		return err
	})
	return l, err
}

func listenUDP(ns string, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := netns.Do(ns, func() error {
		var err error
		c, err = net.ListenPacket("udp4", addr)
		return err
	})
	return c, err
}

func dialNS(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := netns.Do(ns, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}
