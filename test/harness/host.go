package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/keelson/keelson/node/containerd"
)

// NodeAddress picks the machine's first non-loopback IPv4 address (the one another
// machine would dial): agents advertise it and serve NodePorts on it. Bridges and veths
// of pods are skipped.
func NodeAddress() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		skip := false
		for _, p := range []string{"keelson", "kls", "kt", "veth", "docker", "cni"} {
			skip = skip || strings.HasPrefix(ifc.Name, p)
		}
		if skip {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String(), nil
			}
		}
	}
	return "", errors.New("no non-loopback IPv4 address on this machine")
}

// RuntimeSpec names what one agent owns on the host, so a test can inspect and clean
// it without the agent: its containerd namespace, runtime state, bridge, nft table.
type RuntimeSpec struct {
	Containerd string // socket
	Namespace  string // containerd namespace
	StateDir   string // the agent's <data-dir>/runtime
	Bridge     string
	ProxyTable string
}

// Open connects a runtime to the agent's containerd namespace and state (for
// inspection: it does not touch anything by itself).
func (s RuntimeSpec) Open(ctx context.Context) (*containerd.Runtime, error) {
	return containerd.New(ctx, containerd.Config{Address: s.Containerd, Namespace: s.Namespace,
		StateDir: s.StateDir, BridgeName: s.Bridge})
}

// RemoveAll stops and removes every container and pod network the agent left (an
// agent keeps its pods when it stops, by design), then deletes its bridge and nft
// table. Call it after the agent has exited. With no Containerd socket it removes only
// the bridge and the table. It goes on after errors and returns them
// joined.
func (s RuntimeSpec) RemoveAll(ctx context.Context) error {
	var errs []error
	if s.Containerd == "" {
		// Only the host-level parts (bridge, table) are asked for.
	} else if rt, err := s.Open(ctx); err != nil {
		errs = append(errs, err)
	} else {
		if cs, err := rt.ListContainers(ctx); err != nil {
			errs = append(errs, err)
		} else {
			for _, c := range cs {
				if err := rt.StopContainer(ctx, c.ID, time.Second); err != nil {
					errs = append(errs, err)
				}
				if err := rt.RemoveContainer(ctx, c.ID); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if sbs, err := rt.ListSandboxes(ctx); err != nil {
			errs = append(errs, err)
		} else {
			for _, sb := range sbs {
				if err := rt.RemoveSandbox(ctx, sb.PodUID); err != nil {
					errs = append(errs, err)
				}
			}
		}
		_ = rt.Close()
	}
	if s.Bridge != "" && linkExists(s.Bridge) {
		if out, err := exec.Command("ip", "link", "del", s.Bridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %w: %s", s.Bridge, err, out))
		}
	}
	if s.ProxyTable != "" && nftTableExists(s.ProxyTable) {
		if out, err := exec.Command("nft", "delete", "table", "ip", s.ProxyTable).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("nft delete table ip %s: %w: %s", s.ProxyTable, err, out))
		}
	}
	return errors.Join(errs...)
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func nftTableExists(name string) bool {
	return exec.Command("nft", "list", "table", "ip", name).Run() == nil
}

// Leftovers describes what of the agent is still on the host (containers, sandboxes,
// the bridge, the nft table); "" when nothing is.
func (s RuntimeSpec) Leftovers(ctx context.Context) string {
	var out []string
	if rt, err := s.Open(ctx); err == nil {
		if cs, err := rt.ListContainers(ctx); err == nil && len(cs) > 0 {
			out = append(out, fmt.Sprintf("%d containers", len(cs)))
		}
		if sbs, err := rt.ListSandboxes(ctx); err == nil && len(sbs) > 0 {
			out = append(out, fmt.Sprintf("%d sandboxes", len(sbs)))
		}
		_ = rt.Close()
	}
	if linkExists(s.Bridge) {
		out = append(out, "bridge "+s.Bridge)
	}
	if s.ProxyTable != "" && nftTableExists(s.ProxyTable) {
		out = append(out, "nft table "+s.ProxyTable)
	}
	return strings.Join(out, ", ")
}

// DNSAddress is the cluster DNS address of agent i of a suite: 169.254.<suite>.<i+1>.
// Agents that share this host each need their own (the default 169.254.20.10 would
// be bound by the first one only); each suite takes its own third octet (25–30), and
// scripts/cleanup-test.sh removes what a killed agent left on lo.
func DNSAddress(suite, i int) string { return fmt.Sprintf("169.254.%d.%d", suite, i+1) }
