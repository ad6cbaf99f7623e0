package containerd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	gocni "github.com/containerd/go-cni"

	"github.com/keelson/keelson/node"
)

// networkName names the CNI network; host-local keeps allocations in
// <StateDir>/ipam/<networkName>/<ip>, one file per address holding the sandbox ID.
const networkName = "keelson"

// conflistFile is the generated configuration, kept on disk so an operator can read
// what pods are wired with and so a restarted runtime can release addresses of pods
// whose CIDR it was never told.
const conflistFile = "10-keelson.conflist"

// networks caches one loaded CNI configuration per pod CIDR (a node normally has one).
type networks struct {
	mu     sync.Mutex
	byCIDR map[string]gocni.CNI
}

// conflist is the CNI configuration of a pod network: a bridge with the gateway on the
// host (pods reach the host and the host reaches pod IPs), masquerading for traffic
// leaving the node, hairpin so a pod reaches itself through a service, host-local
// addresses from the node's pod CIDR stored under our state directory, and portmap for
// hostPort. The loopback network is added separately by go-cni.
func (r *Runtime) conflist(podCIDR string) ([]byte, error) {
	if _, _, err := net.ParseCIDR(podCIDR); err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", podCIDR, err)
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       networkName,
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      r.cfg.BridgeName,
				"isGateway":   true,
				"ipMasq":      true,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": ipamDir(r.cfg.StateDir),
				},
			},
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]bool{"portMappings": true},
			},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// network returns the CNI configuration for podCIDR, loading it on first use. An
// empty podCIDR means the one last written to disk (for releasing addresses).
func (r *Runtime) network(podCIDR string) (gocni.CNI, error) {
	r.net.mu.Lock()
	defer r.net.mu.Unlock()
	path := filepath.Join(r.cfg.CNIConfDir, conflistFile)
	var conf []byte
	if podCIDR == "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read CNI config: %w", err)
		}
		var c struct {
			Plugins []struct {
				IPAM struct {
					Ranges [][]struct{ Subnet string } `json:"ranges"`
				} `json:"ipam"`
			} `json:"plugins"`
		}
		if err := json.Unmarshal(b, &c); err != nil || len(c.Plugins) == 0 || len(c.Plugins[0].IPAM.Ranges) == 0 || len(c.Plugins[0].IPAM.Ranges[0]) == 0 {
			return nil, fmt.Errorf("CNI config %s has no pod CIDR (%v)", path, err)
		}
		podCIDR, conf = c.Plugins[0].IPAM.Ranges[0][0].Subnet, b
	}
	if n := r.net.byCIDR[podCIDR]; n != nil {
		return n, nil
	}
	if conf == nil {
		var err error
		if conf, err = r.conflist(podCIDR); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, conf); err != nil {
			return nil, fmt.Errorf("write CNI config: %w", err)
		}
	}
	n, err := gocni.New(
		gocni.WithPluginDir([]string{r.cfg.CNIBinDir}),
		gocni.WithPluginConfDir(r.cfg.CNIConfDir),
		gocni.WithInterfacePrefix("eth"),
		gocni.WithMinNetworkCount(2),
	)
	if err != nil {
		return nil, fmt.Errorf("CNI: %w", err)
	}
	// Our network first so that its interface is eth0; loopback brings up lo.
	if err := n.Load(gocni.WithConfListBytes(conf), gocni.WithLoNetwork); err != nil {
		return nil, fmt.Errorf("load CNI config: %w", err)
	}
	if r.net.byCIDR == nil {
		r.net.byCIDR = map[string]gocni.CNI{}
	}
	r.net.byCIDR[podCIDR] = n
	return n, nil
}

func portMappings(ports []node.PortMapping) []gocni.PortMapping {
	var out []gocni.PortMapping
	for _, p := range ports {
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, gocni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto})
	}
	return out
}

// cniAdd wires the namespace and returns the pod's IPv4 address.
func (r *Runtime) cniAdd(ctx context.Context, id, nsPath, podCIDR string, ports []node.PortMapping) (string, error) {
	n, err := r.network(podCIDR)
	if err != nil {
		return "", err
	}
	res, err := n.Setup(ctx, id, nsPath, gocni.WithCapabilityPortMap(portMappings(ports)))
	if err != nil {
		return "", fmt.Errorf("CNI add %s: %w", id, err)
	}
	if iface := res.Interfaces["eth0"]; iface != nil {
		for _, c := range iface.IPConfigs {
			if c.IP.To4() != nil {
				return c.IP.String(), nil
			}
		}
	}
	return "", fmt.Errorf("CNI add %s: no IPv4 address on eth0", id)
}

// cniDel releases the pod's network. It is always called, even when the namespace
// is gone (nsPath ""): host-local only frees the address on DEL.
func (r *Runtime) cniDel(ctx context.Context, id, nsPath, podCIDR string, ports []node.PortMapping) error {
	n, err := r.network(podCIDR)
	if err != nil {
		if podCIDR == "" && errors.Is(err, os.ErrNotExist) {
			return nil // no network was ever configured, so nothing was allocated
		}
		return err
	}
	if err := n.Remove(ctx, id, nsPath, gocni.WithCapabilityPortMap(portMappings(ports))); err != nil {
		return fmt.Errorf("CNI del %s: %w", id, err)
	}
	// Without the namespace the plugin leaves its masquerading behind. While the
	// namespace lives (ReconcileIPs of a sandbox that lost its record) a later DEL with
	// it does that, and would fail if the chain were gone already.
	if nsPath == "" && !isNetNS(r.netnsPath(id)) {
		if err := cleanIPMasq(ctx, id); err != nil {
			return fmt.Errorf("CNI del %s: %w", id, err)
		}
	}
	return nil
}

// masqChain is the bridge plugin's nat chain masquerading the traffic of sandbox id
// (its utils.FormatChainName).
func masqChain(id string) string {
	sum := sha512.Sum512([]byte(networkName + id))
	return fmt.Sprintf("CNI-%x", sum)[:28]
}

// cleanIPMasq removes what the bridge plugin's ipMasq made for sandbox id: the
// POSTROUTING jumps to its nat chain, and the chain. The plugin removes them itself
// only on a DEL with the namespace (it learns the pod's address from eth0), so a
// namespace destroyed behind our back would leak them, and the next DEL of the same
// sandbox ID would then fail on the chain still in use. No chain, nothing to do.
func cleanIPMasq(ctx context.Context, id string) error {
	chain := masqChain(id)
	ipt := func(args ...string) ([]byte, error) {
		out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "nat"}, args...)...).CombinedOutput()
		if err != nil {
			return out, fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return out, nil
	}
	if _, err := ipt("-S", chain); err != nil {
		return nil // no such chain (or no iptables, so the plugin made none)
	}
	out, err := ipt("-L", "POSTROUTING", "-n", "--line-numbers")
	if err != nil {
		return err
	}
	var nums []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == chain {
			nums = append(nums, f[0])
		}
	}
	for i := len(nums) - 1; i >= 0; i-- { // from the bottom: numbers above stay valid
		if _, err := ipt("-D", "POSTROUTING", nums[i]); err != nil {
			return err
		}
	}
	if _, err := ipt("-F", chain); err != nil {
		return err
	}
	_, err = ipt("-X", chain)
	return err
}

// ReconcileIPs releases every host-local address not held by a pod in live (pod
// UIDs). The agent calls it at start, after adopting sandboxes: an agent killed
// between CNI ADD and writing its sandbox record, or a sandbox record lost with its
// disk, would otherwise leak an address forever.
func (r *Runtime) ReconcileIPs(ctx context.Context, live map[string]bool) error {
	keep := map[string]bool{}
	for uid := range live {
		keep[sandboxID(uid)] = true
	}
	owners, err := r.allocations()
	if err != nil {
		return err
	}
	var errs []error
	for ip, owner := range owners {
		if keep[owner] {
			continue
		}
		r.log.Info("releasing leaked pod address", "ip", ip, "sandbox", owner)
		unlock := r.locks.lock("sandbox/" + owner)
		err := r.cniDel(ctx, owner, "", "", nil)
		unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("release %s of %s: %w", ip, owner, err))
		}
	}
	return errors.Join(errs...)
}

// allocations reads host-local's store: address → sandbox ID.
func (r *Runtime) allocations() (map[string]string, error) {
	dir := filepath.Join(ipamDir(r.cfg.StateDir), networkName)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read IP allocations: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || net.ParseIP(e.Name()) == nil {
			continue // "lock", "last_reserved_ip.0"
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read IP allocation: %w", err)
		}
		s := bufio.NewScanner(f)
		if s.Scan() {
			out[e.Name()] = strings.TrimSpace(s.Text())
		}
		_ = f.Close()
	}
	return out, nil
}

// AllocatedIPs lists the pod addresses host-local holds, for diagnostics and tests.
func (r *Runtime) AllocatedIPs() (map[string]string, error) { return r.allocations() }
