package containerd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// SandboxHealthy implements node.Runtime: the sandbox record exists and its CNI setup
// finished, the namespace is still an nsfs mount, and in it eth0 exists and is up
// with its veth peer on the host enslaved to the bridge, which exists and is up. That
// is a statfs and two link dumps (one in the namespace, one on the host): deleting
// either end of a veth deletes both, so a missing host veth shows as a missing eth0.
func (r *Runtime) SandboxHealthy(ctx context.Context, podUID string) (bool, string, error) {
	id := sandboxID(podUID)
	defer r.locks.lock("sandbox/" + id)()
	rec, err := r.readRecord(id)
	if errors.Is(err, os.ErrNotExist) {
		return false, "the sandbox record is gone", nil
	}
	if err != nil {
		return false, "", err
	}
	if rec.IP == "" {
		return false, "the sandbox's network setup never finished", nil
	}
	if !isNetNS(rec.NetNSPath) {
		return false, fmt.Sprintf("network namespace %s is gone", rec.NetNSPath), nil
	}
	var podLinks []link
	err = inNetNS(rec.NetNSPath, func() error {
		var err error
		podLinks, err = dumpLinks()
		return err
	})
	if err != nil {
		return false, "", fmt.Errorf("sandbox health of %s: list links in %s: %w", podUID, rec.NetNSPath, err)
	}
	eth0, ok := findLink(podLinks, func(l link) bool { return l.name == "eth0" })
	switch {
	case !ok:
		return false, "the pod's interface eth0 (its veth) is gone", nil
	case eth0.flags&unix.IFF_UP == 0:
		return false, "the pod's interface eth0 is down", nil
	}
	hostLinks, err := dumpLinks()
	if err != nil {
		return false, "", fmt.Errorf("sandbox health of %s: list host links: %w", podUID, err)
	}
	bridge, ok := findLink(hostLinks, func(l link) bool { return l.name == r.cfg.BridgeName })
	switch {
	case !ok:
		return false, fmt.Sprintf("bridge %s is gone", r.cfg.BridgeName), nil
	case bridge.flags&unix.IFF_UP == 0:
		return false, fmt.Sprintf("bridge %s is down", r.cfg.BridgeName), nil
	}
	peer, ok := findLink(hostLinks, func(l link) bool { return l.index == eth0.peer })
	switch {
	case eth0.peer == 0 || !ok:
		return false, "the host end of the pod's veth is gone", nil
	case peer.master != bridge.index:
		return false, fmt.Sprintf("the pod's veth %s is not on bridge %s", peer.name, r.cfg.BridgeName), nil
	case peer.flags&unix.IFF_UP == 0:
		return false, fmt.Sprintf("the pod's veth %s is down", peer.name), nil
	}
	return true, "", nil
}

// link is what the health check needs of a network interface.
type link struct {
	index  int32
	name   string
	flags  uint32
	master int32 // IFLA_MASTER: the bridge it is enslaved to
	peer   int32 // IFLA_LINK: a veth's peer (its index in the peer's namespace)
}

func findLink(ls []link, match func(link) bool) (link, bool) {
	for _, l := range ls {
		if match(l) {
			return l, true
		}
	}
	return link{}, false
}

// dumpLinks lists the interfaces of the calling thread's network namespace with one
// RTM_GETLINK dump.
func dumpLinks() ([]link, error) {
	b, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, err
	}
	var out []link
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		l := link{
			index: int32(binary.NativeEndian.Uint32(m.Data[4:8])),
			flags: binary.NativeEndian.Uint32(m.Data[8:12]),
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, err
		}
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFLA_IFNAME:
				l.name = string(trimNUL(a.Value))
			case unix.IFLA_MASTER:
				if len(a.Value) >= 4 {
					l.master = int32(binary.NativeEndian.Uint32(a.Value))
				}
			case unix.IFLA_LINK:
				if len(a.Value) >= 4 {
					l.peer = int32(binary.NativeEndian.Uint32(a.Value))
				}
			}
		}
		out = append(out, l)
	}
	return out, nil
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// inNetNS runs fn on an OS thread that joined the network namespace at path. The
// thread is never unlocked, so Go destroys it when the goroutine ends and no other
// goroutine ever runs in the pod's namespace (as in createNetNS).
func inNetNS(path string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		done <- fn()
	}()
	return <-done
}
