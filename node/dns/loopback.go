package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// AddLoopbackAddress puts ip/32 on the host's loopback device so the DNS server can
// bind it: pods reach it through their default route (the bridge gateway), and the
// kernel delivers a packet for a local address to the local socket whatever device
// it came in on. A link-local address (169.254.0.0/16) is never routed off the node,
// so each node's pods always reach their own node's server, and it cannot collide with
// pod, service or node addresses. added is false when the address was already there
// (another process owns it; the caller must not remove it).
func AddLoopbackAddress(ip netip.Addr) (added bool, err error) {
	err = loopbackAddr(unix.RTM_NEWADDR, netlink.Create|netlink.Excl, ip)
	if errors.Is(err, unix.EEXIST) {
		return false, nil
	}
	return err == nil, err
}

// RemoveLoopbackAddress takes ip/32 off the loopback device (AddLoopbackAddress's undo).
func RemoveLoopbackAddress(ip netip.Addr) error {
	err := loopbackAddr(unix.RTM_DELADDR, 0, ip)
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		return nil
	}
	return err
}

func loopbackAddr(typ netlink.HeaderType, flags netlink.HeaderFlags, ip netip.Addr) error {
	if !ip.Is4() {
		return fmt.Errorf("dns address %s: only IPv4 is supported", ip)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return fmt.Errorf("loopback device: %w", err)
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer c.Close()
	// struct ifaddrmsg: family, prefix length, flags, scope, interface index.
	data := make([]byte, unix.SizeofIfAddrmsg)
	data[0], data[1], data[3] = unix.AF_INET, 32, unix.RT_SCOPE_UNIVERSE
	binary.NativeEndian.PutUint32(data[4:8], uint32(lo.Index))
	ae := netlink.NewAttributeEncoder()
	a4 := ip.As4()
	ae.Bytes(unix.IFA_LOCAL, a4[:])
	ae.Bytes(unix.IFA_ADDRESS, a4[:])
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = c.Execute(netlink.Message{
		Header: netlink.Header{Type: typ, Flags: netlink.Request | netlink.Acknowledge | flags},
		Data:   append(data, attrs...),
	})
	if oe, ok := err.(*netlink.OpError); ok {
		err = oe.Err
	}
	if err != nil {
		return fmt.Errorf("%s %s on lo: %w", map[netlink.HeaderType]string{unix.RTM_NEWADDR: "add", unix.RTM_DELADDR: "remove"}[typ], ip, err)
	}
	return nil
}
