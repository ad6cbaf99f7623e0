package reconciler

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"time"

	"github.com/keelson/keelson/api"
)

// Config holds the knobs of the reconciler. Everything that would make Plan
// non-deterministic (UIDs, generated names) is injected here so tests and
// `keelson plan` previews can be reproduced.
type Config struct {
	// NodeGracePeriod: a node whose last heartbeat is older than this is NotReady.
	NodeGracePeriod time.Duration
	// EvictionTimeout is measured from the node's last heartbeat (not from the moment
	// it became NotReady), so the default node is Down 20s after its last heartbeat.
	// A value below NodeGracePeriod is treated as NodeGracePeriod.
	EvictionTimeout time.Duration
	// ServiceCIDR is the range ClusterIPs are allocated from.
	ServiceCIDR string
	// ClusterCIDR is split into one NodeCIDRMaskSize subnet per node.
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// NodePortMin..NodePortMax (inclusive) is the NodePort range.
	NodePortMin, NodePortMax int32
	// MaxPodsPerBatch caps how many pods one Plan creates and how many it schedules, so
	// one raft entry stays bounded; the rest follow in the next Plan. <= 0: no cap.
	MaxPodsPerBatch int
	// MaxPodsPerNode caps the running pods on one node (the kubelet's --max-pods,
	// default 110, as Kubernetes tests at scale); 0 in a Config means the default,
	// < 0 no cap.
	MaxPodsPerNode int
	// NewUID returns a fresh pod UID.
	NewUID func() string
	// NameSuffix returns 5 characters [a-z0-9] for generated RC pod names.
	NameSuffix func() string
}

// DefaultConfig returns the production defaults with random UIDs and name suffixes.
func DefaultConfig() Config {
	return Config{
		NodeGracePeriod:  10 * time.Second,
		EvictionTimeout:  20 * time.Second,
		ServiceCIDR:      "10.96.0.0/16",
		ClusterCIDR:      "10.244.0.0/16",
		NodeCIDRMaskSize: 24,
		NodePortMin:      30000,
		NodePortMax:      32767,
		MaxPodsPerBatch:  5000,
		MaxPodsPerNode:   110,
		NewUID:           randomUID,
		NameSuffix:       randomSuffix,
	}
}

// withDefaults fills zero fields so a partly filled Config still works.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.NodeGracePeriod <= 0 {
		c.NodeGracePeriod = d.NodeGracePeriod
	}
	if c.EvictionTimeout <= 0 {
		c.EvictionTimeout = d.EvictionTimeout
	}
	c.EvictionTimeout = max(c.EvictionTimeout, c.NodeGracePeriod)
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = d.ServiceCIDR
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = d.ClusterCIDR
	}
	if c.NodeCIDRMaskSize == 0 {
		c.NodeCIDRMaskSize = d.NodeCIDRMaskSize
	}
	if c.NodePortMin == 0 && c.NodePortMax == 0 {
		c.NodePortMin, c.NodePortMax = d.NodePortMin, d.NodePortMax
	}
	if c.MaxPodsPerNode == 0 {
		c.MaxPodsPerNode = d.MaxPodsPerNode
	}
	if c.NewUID == nil {
		c.NewUID = d.NewUID
	}
	if c.NameSuffix == nil {
		c.NameSuffix = d.NameSuffix
	}
	return c
}

// randomUID returns a random RFC 4122 version 4 UUID.
func randomUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (Go >= 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[v>>4], hex[v&0x0f])
	}
	return string(out)
}

// suffixAlphabet is Kubernetes' alphabet for generated names: no vowels, so a suffix
// never spells a word, and no easily confused characters.
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func randomSuffix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = suffixAlphabet[int(b[i])%len(suffixAlphabet)]
	}
	return string(b[:])
}

// Published is the configuration as the server's read API publishes it (the defaults
// filled in, so what is published is what Plan uses).
func (c Config) Published() api.ReconcilerConfig {
	c = c.withDefaults()
	return api.ReconcilerConfig{
		NodeGracePeriod: c.NodeGracePeriod.String(), EvictionTimeout: c.EvictionTimeout.String(),
		ServiceCIDR: c.ServiceCIDR, ClusterCIDR: c.ClusterCIDR, NodeCIDRMaskSize: c.NodeCIDRMaskSize,
		NodePortMin: c.NodePortMin, NodePortMax: c.NodePortMax, MaxPodsPerBatch: c.MaxPodsPerBatch,
		MaxPodsPerNode: c.MaxPodsPerNode,
	}
}

// WithPublished returns c with a server's published knobs; c keeps its UID and name
// generators (a preview wants deterministic ones).
func (c Config) WithPublished(p api.ReconcilerConfig) (Config, error) {
	grace, err := time.ParseDuration(p.NodeGracePeriod)
	if err != nil {
		return c, fmt.Errorf("nodeGracePeriod: %w", err)
	}
	evict, err := time.ParseDuration(p.EvictionTimeout)
	if err != nil {
		return c, fmt.Errorf("evictionTimeout: %w", err)
	}
	for field, cidr := range map[string]string{"serviceCIDR": p.ServiceCIDR, "clusterCIDR": p.ClusterCIDR} {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			return c, fmt.Errorf("%s: %w", field, err)
		}
	}
	c.NodeGracePeriod, c.EvictionTimeout = grace, evict
	c.ServiceCIDR, c.ClusterCIDR, c.NodeCIDRMaskSize = p.ServiceCIDR, p.ClusterCIDR, p.NodeCIDRMaskSize
	c.NodePortMin, c.NodePortMax, c.MaxPodsPerBatch = p.NodePortMin, p.NodePortMax, p.MaxPodsPerBatch
	c.MaxPodsPerNode = p.MaxPodsPerNode
	return c, nil
}
