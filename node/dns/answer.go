package dns

import (
	"context"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// maxCNAMEChain bounds how many ExternalName CNAMEs inside the zone are followed.
const maxCNAMEChain = 8

// resolver answers one question from an index, asking upstream only for the targets of
// ExternalName CNAMEs outside the zone (as CoreDNS does, so a client gets the address
// in one answer).
type resolver struct {
	idx      *Index
	upstream func(ctx context.Context, q mdns.Question) *mdns.Msg
}

// answer fills m (already SetReply'd to the question) authoritatively.
func (r resolver) answer(ctx context.Context, m *mdns.Msg, q mdns.Question) {
	m.Authoritative = true
	qname := strings.ToLower(q.Name)
	for range maxCNAMEChain {
		n, ok := r.idx.lookup(qname)
		if !ok {
			if len(m.Answer) == 0 {
				m.Rcode = mdns.RcodeNameError
			}
			m.Ns = append(m.Ns, r.soa())
			return
		}
		if n.cname != "" && q.Qtype != mdns.TypeCNAME {
			m.Answer = append(m.Answer, &mdns.CNAME{Hdr: r.hdr(qname, mdns.TypeCNAME), Target: n.cname})
			if r.idx.InZone(n.cname) {
				qname = n.cname
				continue
			}
			if r.upstream != nil {
				if up := r.upstream(ctx, mdns.Question{Name: n.cname, Qtype: q.Qtype, Qclass: q.Qclass}); up != nil && up.Rcode == mdns.RcodeSuccess {
					m.Answer = append(m.Answer, up.Answer...)
				}
			}
			return
		}
		before := len(m.Answer)
		r.records(m, qname, n, q.Qtype)
		if len(m.Answer) == before {
			m.Ns = append(m.Ns, r.soa()) // NODATA
		}
		return
	}
}

// records appends the records of n that match qtype.
func (r resolver) records(m *mdns.Msg, qname string, n *name, qtype uint16) {
	any := qtype == mdns.TypeANY
	if qtype == mdns.TypeA || any {
		for _, ip := range n.a {
			m.Answer = append(m.Answer, r.a(qname, ip))
		}
	}
	if qtype == mdns.TypeSRV || any {
		seen := map[string]bool{}
		for _, s := range n.srv {
			m.Answer = append(m.Answer, &mdns.SRV{Hdr: r.hdr(qname, mdns.TypeSRV), Priority: 0,
				Weight: srvWeight(len(n.srv)), Port: s.port, Target: s.target})
			if t, ok := r.idx.lookup(s.target); ok && !seen[s.target] {
				seen[s.target] = true
				for _, ip := range t.a {
					m.Extra = append(m.Extra, r.a(s.target, ip))
				}
			}
		}
	}
	if (qtype == mdns.TypeCNAME || any) && n.cname != "" {
		m.Answer = append(m.Answer, &mdns.CNAME{Hdr: r.hdr(qname, mdns.TypeCNAME), Target: n.cname})
	}
	if (qtype == mdns.TypeSOA || any) && qname == r.idx.zone {
		m.Answer = append(m.Answer, r.soa())
	}
}

// srvWeight spreads weight evenly as CoreDNS does (100 split among the records).
func srvWeight(n int) uint16 {
	if n <= 1 {
		return 100
	}
	return uint16(max(100/n, 1))
}

// answerPTR answers a reverse lookup of a ClusterIP or headless pod IP; ok is false
// when the index has no such address (the question then goes upstream).
func (r resolver) answerPTR(m *mdns.Msg, q mdns.Question) bool {
	t, ok := r.idx.reverse(strings.ToLower(q.Name))
	if !ok {
		return false
	}
	m.Authoritative = true
	if q.Qtype == mdns.TypePTR || q.Qtype == mdns.TypeANY {
		m.Answer = append(m.Answer, &mdns.PTR{Hdr: r.hdr(q.Name, mdns.TypePTR), Ptr: t})
	}
	return true
}

func (r resolver) hdr(owner string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: owner, Rrtype: t, Class: mdns.ClassINET, Ttl: TTL}
}

func (r resolver) a(owner string, ip netip.Addr) *mdns.A {
	return &mdns.A{Hdr: r.hdr(owner, mdns.TypeA), A: ip.AsSlice()}
}

// soa is the zone's SOA, sent in the authority section of negative answers; its
// minimum (the negative-caching TTL) is the records' TTL.
func (r resolver) soa() *mdns.SOA {
	return &mdns.SOA{Hdr: r.hdr(r.idx.zone, mdns.TypeSOA), Ns: "ns.dns." + r.idx.zone,
		Mbox: "hostmaster." + r.idx.zone, Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: TTL}
}
