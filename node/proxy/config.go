package proxy

import (
	"log/slog"
	"net/netip"
)

// Config configures either data path.
type Config struct {
	Logger *slog.Logger
	// ClusterCIDR is the whole pod network (e.g. 10.244.0.0/16). Service traffic from
	// outside it is masqueraded so the endpoint's reply comes back through this node.
	ClusterCIDR string
	// BridgeName is the node's pod bridge (keelson0). A pod reaching a Service whose
	// chosen endpoint sits on the same bridge (or is itself: hairpin) is masqueraded,
	// otherwise the endpoint would answer the pod directly over the bridge, bypassing
	// the reverse NAT. Empty disables that rule.
	BridgeName string
	// Table is the nftables table name (family ip); default "keelson".
	Table string
	// NetNSPath runs the proxy inside another network namespace; "" is the agent's own.
	// Tests use it to work in private namespaces.
	NetNSPath string
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c Config) table() string {
	if c.Table == "" {
		return "keelson"
	}
	return c.Table
}

func (c Config) clusterCIDR() (netip.Prefix, error) {
	if c.ClusterCIDR == "" {
		return netip.ParsePrefix("10.244.0.0/16")
	}
	p, err := netip.ParsePrefix(c.ClusterCIDR)
	if err != nil {
		return p, err
	}
	return p.Masked(), nil
}
