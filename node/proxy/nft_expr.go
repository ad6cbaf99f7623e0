package proxy

import (
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// masqBit is the packet mark bit that asks the postrouting chain to masquerade, as
// kube-proxy's 0x4000: the decision is taken where the reason is known (NodePort,
// client outside the pod network, hairpin) and acted on after routing.
const masqBit uint32 = 0x4000

// ipsDstNAT is IPS_DST_NAT from the conntrack status bits.
const ipsDstNAT uint32 = 0x20

// icmpPortUnreachable is ICMP destination-unreachable code 3: a TCP client sees
// ECONNREFUSED at once instead of waiting for a timeout.
const icmpPortUnreachable = 3

// Small builders for the expressions nft would generate from the rules written in the
// comments. Register 1 is the 16-byte register; 9 and 10 are the 4-byte registers right
// after its first word, which is how concatenations are laid out.

// loadSvcKey: ip daddr . meta l4proto . th dport
func loadSvcKey() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

func loadSaddr() expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

// setMasqMark: meta mark set meta mark | 0x4000
func setMasqMark() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^masqBit), Xor: binaryutil.NativeEndian.PutUint32(masqBit)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// saddrOutside: ip saddr != prefix
func saddrOutside(p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	net4 := p.Addr().As4()
	return []expr.Any{
		loadSaddr(),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: net4[:]},
	}
}

func gotoChain(name string) expr.Any { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: name} }

// renderChain returns the rules of one regular chain. Anonymous maps it needs are
// added to the batch on the way.
func (p *NFTables) renderChain(def chainDef) ([][]expr.Any, error) {
	switch c := def.(type) {
	case extChain:
		return [][]expr.Any{append(setMasqMark(), gotoChain(c.Service))}, nil
	case epChain:
		ip := c.Backend.IP.As4()
		var rules [][]expr.Any
		// hairpin: ip saddr <endpoint> meta mark set mark | 0x4000
		rules = append(rules, append([]expr.Any{loadSaddr(),
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]}}, setMasqMark()...))
		if c.AffinitySet != "" {
			// update @aff { ip saddr }: remember (and refresh) this client's endpoint.
			set := p.affinitySet(c.AffinitySet, c.Timeout)
			rules = append(rules, []expr.Any{loadSaddr(), &expr.Dynset{SrcRegKey: 1, SetName: set.Name, SetID: set.ID,
				Operation: uint32(unix.NFT_DYNSET_OP_UPDATE), Timeout: c.Timeout}})
		}
		// dnat to ip:port
		rules = append(rules, []expr.Any{
			&expr.Immediate{Register: 1, Data: ip[:]},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(c.Backend.Port)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		})
		return rules, nil
	case svcChain:
		var rules [][]expr.Any
		if c.MasqOutsideCluster {
			rules = append(rules, append(saddrOutside(p.cidr), setMasqMark()...))
		}
		for i, setName := range c.AffinitySets {
			// ip saddr @aff goto ep: a client seen within the timeout keeps its endpoint.
			set := p.affinitySet(setName, 0)
			rules = append(rules, []expr.Any{loadSaddr(),
				&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID}, gotoChain(c.Endpoints[i])})
		}
		if len(c.Endpoints) == 1 {
			return append(rules, []expr.Any{gotoChain(c.Endpoints[0])}), nil
		}
		// numgen random mod N vmap { 0 : goto ep0, 1 : goto ep1, ... }
		vmap := &nftables.Set{Table: p.table, Anonymous: true, Constant: true, IsMap: true,
			KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict,
			KeyByteOrder: binaryutil.NativeEndian} // numgen writes host-order integers
		elems := make([]nftables.SetElement, len(c.Endpoints))
		for i, ep := range c.Endpoints {
			elems[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)),
				VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: ep}}
		}
		if err := p.conn.AddSet(vmap, elems); err != nil {
			return nil, err
		}
		return append(rules, []expr.Any{
			&expr.Numgen{Register: 1, Modulus: uint32(len(c.Endpoints)), Type: unix.NFT_NG_RANDOM},
			&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: vmap.Name, SetID: vmap.ID},
		}), nil
	}
	return nil, nil
}

// affinitySet returns the set object for a name, remembering it so later batches can
// reference or delete it.
func (p *NFTables) affinitySet(name string, timeout time.Duration) *nftables.Set {
	if s, ok := p.sets[name]; ok {
		return s
	}
	s := &nftables.Set{Table: p.table, Name: name, KeyType: nftables.TypeIPAddr,
		HasTimeout: true, Dynamic: true, Timeout: timeout}
	p.sets[name] = s
	return s
}

// baseRules are the fixed hooks: dispatch from prerouting and output (pods and the host
// itself reach Services), reject new connections to service ports without endpoints,
// and masquerade what was marked.
func (p *NFTables) addBase() {
	t := p.table
	c := p.conn
	p.dispatchMap = &nftables.Set{Table: t, Name: "service-ips", IsMap: true, Concatenation: true,
		KeyType:  nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService),
		DataType: nftables.TypeVerdict}
	p.noEpSet = &nftables.Set{Table: t, Name: "no-endpoint-services", Concatenation: true,
		KeyType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)}
	// Errors from AddSet are only for anonymous non-constant sets, which these are not.
	_ = c.AddSet(p.dispatchMap, nil)
	_ = c.AddSet(p.noEpSet, nil)

	services := c.AddChain(&nftables.Chain{Table: t, Name: "services"})
	c.AddRule(&nftables.Rule{Table: t, Chain: services, Exprs: append(loadSvcKey(),
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: p.dispatchMap.Name, SetID: p.dispatchMap.ID})})

	dstnat := nftables.ChainPriorityNATDest
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"nat-prerouting", nftables.ChainHookPrerouting}, {"nat-output", nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{Table: t, Name: h.name, Type: nftables.ChainTypeNAT, Hooknum: h.hook, Priority: dstnat})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "services"}}})
	}

	// ct state new ip daddr . meta l4proto . th dport @no-endpoint-services reject
	filterPrio := nftables.ChainPriorityRef(*nftables.ChainPriorityNATDest - 10)
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"filter-prerouting", nftables.ChainHookPrerouting}, {"filter-output", nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{Table: t, Name: h.name, Type: nftables.ChainTypeFilter, Hooknum: h.hook, Priority: filterPrio})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append([]expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		}, append(loadSvcKey(),
			&expr.Lookup{SourceRegister: 1, SetName: p.noEpSet.Name, SetID: p.noEpSet.ID},
			&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpPortUnreachable})...)})
	}

	post := c.AddChain(&nftables.Chain{Table: t, Name: "nat-postrouting", Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	if p.cfg.BridgeName != "" {
		// iifname br oifname br ct status dnat masquerade: pod → Service → pod on the
		// same bridge (or itself). Without it the endpoint answers over the bridge and
		// the client drops a reply from an address it never talked to.
		name := ifname(p.cfg.BridgeName)
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
			&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Masq{},
		}})
	}
	// meta mark & 0x4000 == 0 return
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(masqBit), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Verdict{Kind: expr.VerdictReturn},
	}})
	// meta mark set mark & ~0x4000 masquerade
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^masqBit), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		&expr.Masq{},
	}})
}

// ifname pads an interface name to IFNAMSIZ as the kernel stores it.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func gotoVerdict(chain string) *expr.Verdict {
	return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}
}
