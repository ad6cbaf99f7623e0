package hostgw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/keelson/keelson/node/netns"

	"golang.org/x/sys/unix"
)

// A minimal rtnetlink client for the three operations host-gw needs (replace, delete
// and list IPv4 routes in the main table). It avoids a dependency for ~150 lines and
// works in any namespace: the socket is created inside it.

// route is one pod-CIDR route.
type route struct {
	Dst netip.Prefix
	Gw  netip.Addr
}

type nlSock struct {
	fd  int
	seq atomic.Uint32
}

func openNetlink(netnsPath string) (*nlSock, error) {
	var fd int
	err := netns.Do(netnsPath, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &nlSock{fd: fd}, nil
}

func (s *nlSock) close() { _ = unix.Close(s.fd) }

// routeMsg encodes an rtmsg for an IPv4 route of ours in the main table.
func routeMsg(r route, proto uint8, withGw bool) []byte {
	b := make([]byte, unix.SizeofRtMsg)
	b[0] = unix.AF_INET
	b[1] = uint8(r.Dst.Bits())
	b[4] = unix.RT_TABLE_MAIN
	b[5] = proto
	b[6] = unix.RT_SCOPE_UNIVERSE
	b[7] = unix.RTN_UNICAST
	dst := r.Dst.Addr().As4()
	b = appendAttr(b, unix.RTA_DST, dst[:])
	if withGw {
		gw := r.Gw.As4()
		b = appendAttr(b, unix.RTA_GATEWAY, gw[:])
	}
	return b
}

func appendAttr(b []byte, typ uint16, data []byte) []byte {
	l := unix.SizeofRtAttr + len(data)
	hdr := make([]byte, unix.SizeofRtAttr)
	binary.NativeEndian.PutUint16(hdr[0:2], uint16(l))
	binary.NativeEndian.PutUint16(hdr[2:4], typ)
	b = append(b, hdr...)
	b = append(b, data...)
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// do sends one request and reads replies until the kernel's ACK (or, for dumps, DONE),
// returning the data messages.
func (s *nlSock) do(typ uint16, flags uint16, payload []byte) ([]syscall.NetlinkMessage, error) {
	seq := s.seq.Add(1)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(payload))
	binary.NativeEndian.PutUint32(msg[0:4], uint32(unix.SizeofNlMsghdr+len(payload)))
	binary.NativeEndian.PutUint16(msg[4:6], typ)
	binary.NativeEndian.PutUint16(msg[6:8], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:12], seq)
	msg = append(msg, payload...)
	if err := unix.Sendto(s.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink send: %w", err)
	}
	var out []syscall.NetlinkMessage
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("netlink: short error message")
				}
				if code := int32(binary.NativeEndian.Uint32(m.Data[0:4])); code != 0 {
					return nil, unix.Errno(-code)
				}
				return out, nil // ACK
			default:
				out = append(out, m)
			}
		}
	}
}

func (s *nlSock) replace(r route, proto uint8) error {
	_, err := s.do(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, routeMsg(r, proto, true))
	return err
}

func (s *nlSock) del(r route, proto uint8) error {
	_, err := s.do(unix.RTM_DELROUTE, 0, routeMsg(r, proto, false))
	return err
}

// list returns the IPv4 main-table routes with the given protocol.
func (s *nlSock) list(proto uint8) ([]route, error) {
	req := make([]byte, unix.SizeofRtMsg)
	req[0] = unix.AF_INET
	msgs, err := s.do(unix.RTM_GETROUTE, unix.NLM_F_DUMP, req)
	if err != nil {
		return nil, err
	}
	var out []route
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < unix.SizeofRtMsg {
			continue
		}
		if m.Data[0] != unix.AF_INET || m.Data[5] != proto {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, fmt.Errorf("parse route: %w", err)
		}
		table := uint32(m.Data[4])
		var r route
		dst := netip.IPv4Unspecified()
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.RTA_DST:
				if ip, ok := netip.AddrFromSlice(a.Value); ok {
					dst = ip
				}
			case unix.RTA_GATEWAY:
				if ip, ok := netip.AddrFromSlice(a.Value); ok {
					r.Gw = ip
				}
			case unix.RTA_TABLE:
				if len(a.Value) == 4 {
					table = binary.NativeEndian.Uint32(a.Value)
				}
			}
		}
		if table != unix.RT_TABLE_MAIN {
			continue
		}
		r.Dst = netip.PrefixFrom(dst, int(m.Data[1]))
		out = append(out, r)
	}
	return out, nil
}
