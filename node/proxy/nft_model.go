package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// The nftables data path is kube-proxy's nftables mode in miniature. One dispatch
// verdict map, keyed by (daddr . l4proto . dport), sends a packet to the chain of its
// service port; that chain picks an endpoint chain (ClientIP affinity first, then
// numgen random), and the endpoint chain DNATs. Chains are named after the service
// port they serve, so a change to one Service touches only that Service's chains and
// map elements.

// svcKey is one element key of the dispatch map and of the no-endpoints set.
type svcKey struct {
	IP    netip.Addr
	Proto uint8
	Port  uint16
}

// bytes encodes the key as nftables lays out a concatenation: every field padded to
// 4 bytes, network byte order.
func (k svcKey) bytes() []byte {
	b := make([]byte, 12)
	ip := k.IP.As4()
	copy(b[0:4], ip[:])
	b[4] = k.Proto
	b[8] = byte(k.Port >> 8)
	b[9] = byte(k.Port)
	return b
}

// chainDef is the desired content of one regular (non-base) chain. Two chainDefs with
// the same sig render identical rules, which is what makes the diff exact.
type chainDef interface{ sig() string }

// svcChain picks an endpoint for one service port.
type svcChain struct {
	MasqOutsideCluster bool     // mark traffic from outside the pod network for masquerade
	Endpoints          []string // endpoint chain names, in order
	AffinitySets       []string // parallel to Endpoints when ClientIP affinity is on
}

func (c svcChain) sig() string {
	return fmt.Sprintf("svc|%v|%s|%s", c.MasqOutsideCluster, strings.Join(c.Endpoints, ","), strings.Join(c.AffinitySets, ","))
}

// epChain DNATs to one endpoint.
type epChain struct {
	Backend     backend
	AffinitySet string // "" without affinity
	Timeout     time.Duration
}

func (c epChain) sig() string {
	return fmt.Sprintf("ep|%s|%s|%s", c.Backend, c.AffinitySet, c.Timeout)
}

// extChain handles NodePort traffic: always masqueraded (the client may be anywhere),
// then the service chain.
type extChain struct{ Service string }

func (c extChain) sig() string { return "ext|" + c.Service }

// nftState is a complete desired (or last applied) programming of our table, minus the
// fixed base chains.
type nftState struct {
	chains   map[string]chainDef
	dispatch map[svcKey]string // verdict map element → goto chain
	noEp     map[svcKey]bool   // service ports without ready endpoints: rejected
	affinity map[string]time.Duration
	// truncated lists service ports with more ready endpoints than maxEndpoints; only
	// the first maxEndpoints get traffic.
	truncated []string
}

func newNFTState() *nftState {
	return &nftState{
		chains:   map[string]chainDef{},
		dispatch: map[svcKey]string{},
		noEp:     map[svcKey]bool{},
		affinity: map[string]time.Duration{},
	}
}

// desiredNFT computes the state for a model. nodeAddr may be invalid (no NodePorts).
func desiredNFT(ports []servicePort, nodeAddr netip.Addr, masqOutside bool) *nftState {
	st := newNFTState()
	for _, sp := range ports {
		proto := protoNumber(sp.Protocol)
		keys := []svcKey{{IP: sp.ClusterIP, Proto: proto, Port: sp.Port}}
		if sp.NodePort != 0 && nodeAddr.IsValid() {
			keys = append(keys, svcKey{IP: nodeAddr, Proto: proto, Port: sp.NodePort})
		}
		if len(sp.Backends) == 0 {
			for _, k := range keys {
				st.noEp[k] = true
			}
			continue
		}
		if len(sp.Backends) > maxEndpoints {
			st.truncated = append(st.truncated, sp.ID)
			sp.Backends = sp.Backends[:maxEndpoints]
		}
		svcName := chainName("svc", sp.ID)
		sc := svcChain{MasqOutsideCluster: masqOutside}
		for _, b := range sp.Backends {
			epID := sp.ID + "/" + b.String()
			ep := epChain{Backend: b}
			if sp.Affinity > 0 {
				// The timeout is part of the set's name: a set's timeout cannot be
				// changed in place, so a new timeout simply means a new set.
				ep.AffinitySet = chainName("aff", fmt.Sprintf("%s/%d", epID, int64(sp.Affinity/time.Second)))
				ep.Timeout = sp.Affinity
				st.affinity[ep.AffinitySet] = sp.Affinity
				sc.AffinitySets = append(sc.AffinitySets, ep.AffinitySet)
			}
			name := chainName("ep", epID)
			st.chains[name] = ep
			sc.Endpoints = append(sc.Endpoints, name)
		}
		st.chains[svcName] = sc
		st.dispatch[keys[0]] = svcName
		if len(keys) > 1 {
			extName := chainName("ext", sp.ID)
			st.chains[extName] = extChain{Service: svcName}
			st.dispatch[keys[1]] = extName
		}
	}
	return st
}

// chainName makes a readable, unique, length-bounded nftables object name: a hash for
// uniqueness and the ID for whoever reads `nft list table ip keelson`.
func chainName(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	h := base32.StdEncoding.EncodeToString(sum[:])[:10]
	name := prefix + "-" + h + "-" + id
	// Short names keep a service's numgen map (one element per endpoint, all in one
	// netlink message) small; the hash alone guarantees uniqueness.
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	return name
}

// maxNameLen bounds object names (the kernel allows 256).
const maxNameLen = 64

// maxEndpoints bounds the endpoints one service port spreads over: the numgen map is an
// anonymous set that must be sent whole in one message of at most 64 KiB.
const maxEndpoints = 400

func protoNumber(p corev1.Protocol) uint8 {
	switch p {
	case corev1.ProtocolUDP:
		return unix.IPPROTO_UDP
	case corev1.ProtocolSCTP:
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}
