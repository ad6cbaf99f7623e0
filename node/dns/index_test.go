package dns

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// fixture: a ClusterIP service with a named and an unnamed port, a headless one with
// two ready pods (one with a hostname) and one not ready, an ExternalName to an
// outside name and one to an in-cluster name.
func fixture() ([]api.ServiceRecord, []api.Endpoints) {
	svcs := []api.ServiceRecord{
		{Namespace: "default", Name: "backend", Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080}, {Port: 9000}}}},
		{Namespace: "shop", Name: "db", Spec: corev1.ServiceSpec{ClusterIP: "None",
			Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}},
		{Namespace: "default", Name: "ext", Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "api.example.test"}},
		{Namespace: "default", Name: "alias", Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "backend.default.svc.cluster.local"}},
		{Namespace: "default", Name: "pending", Spec: corev1.ServiceSpec{}},
	}
	eps := []api.Endpoints{{Namespace: "shop", Name: "db", Ports: []api.Endpoint{
		{ServicePort: "pg", Protocol: corev1.ProtocolTCP, PodName: "db-0", IP: "10.244.1.5", Port: 5432, Ready: true, Hostname: "db-0"},
		{ServicePort: "pg", Protocol: corev1.ProtocolTCP, PodName: "db-x", IP: "10.244.2.7", Port: 5432, Ready: true},
		{ServicePort: "pg", Protocol: corev1.ProtocolTCP, PodName: "db-y", IP: "10.244.2.8", Port: 5432, Ready: false},
	}}}
	return svcs, eps
}

// ask answers one question from an index with no upstream.
func ask(t *testing.T, x *Index, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	r := new(mdns.Msg)
	r.SetQuestion(name, qtype)
	m := new(mdns.Msg)
	m.SetReply(r)
	resolver{idx: x}.answer(context.Background(), m, r.Question[0])
	return m
}

// rrs renders the answer section without TTLs and classes, sorted.
func rrs(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		f := strings.Fields(rr.String())
		out = append(out, f[0]+" "+strings.Join(f[3:], " "))
	}
	slices.Sort(out)
	return out
}

func TestIndexRecords(t *testing.T) {
	svcs, eps := fixture()
	x := Build("", svcs, eps)
	cases := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"backend.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, []string{"backend.default.svc.cluster.local. A 10.96.0.10"}},
		{"BACKEND.Default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, []string{"backend.default.svc.cluster.local. A 10.96.0.10"}},
		{"backend.default.svc.cluster.local.", mdns.TypeAAAA, mdns.RcodeSuccess, nil}, // NODATA
		{"_http._tcp.backend.default.svc.cluster.local.", mdns.TypeSRV, mdns.RcodeSuccess,
			[]string{"_http._tcp.backend.default.svc.cluster.local. SRV 0 100 8080 backend.default.svc.cluster.local."}},
		{"_http._udp.backend.default.svc.cluster.local.", mdns.TypeSRV, mdns.RcodeNameError, nil},
		{"_tcp.backend.default.svc.cluster.local.", mdns.TypeSRV, mdns.RcodeSuccess, nil}, // empty non-terminal
		{"db.shop.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"db.shop.svc.cluster.local. A 10.244.1.5", "db.shop.svc.cluster.local. A 10.244.2.7"}},
		{"db-0.db.shop.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, []string{"db-0.db.shop.svc.cluster.local. A 10.244.1.5"}},
		{"10-244-2-7.db.shop.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, []string{"10-244-2-7.db.shop.svc.cluster.local. A 10.244.2.7"}},
		{"10-244-2-8.db.shop.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError, nil}, // not ready
		{"_pg._tcp.db.shop.svc.cluster.local.", mdns.TypeSRV, mdns.RcodeSuccess, []string{
			"_pg._tcp.db.shop.svc.cluster.local. SRV 0 50 5432 10-244-2-7.db.shop.svc.cluster.local.",
			"_pg._tcp.db.shop.svc.cluster.local. SRV 0 50 5432 db-0.db.shop.svc.cluster.local."}},
		{"ext.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, []string{"ext.default.svc.cluster.local. CNAME api.example.test."}},
		{"ext.default.svc.cluster.local.", mdns.TypeCNAME, mdns.RcodeSuccess, []string{"ext.default.svc.cluster.local. CNAME api.example.test."}},
		{"alias.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, []string{
			"alias.default.svc.cluster.local. CNAME backend.default.svc.cluster.local.",
			"backend.default.svc.cluster.local. A 10.96.0.10"}},
		{"pending.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, nil},
		{"nope.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"backend.other.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, nil},
		{"svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, nil},
		{"10-244-3-4.anyns.pod.cluster.local.", mdns.TypeA, mdns.RcodeSuccess, []string{"10-244-3-4.anyns.pod.cluster.local. A 10.244.3.4"}},
		{"foo.anyns.pod.cluster.local.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"cluster.local.", mdns.TypeSOA, mdns.RcodeSuccess, []string{"cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"}},
	}
	for _, c := range cases {
		m := ask(t, x, c.name, c.qtype)
		if m.Rcode != c.rcode || !slices.Equal(rrs(m), c.want) {
			t.Errorf("%s %s: rcode %s answer %q; want %s %q", c.name, mdns.TypeToString[c.qtype],
				mdns.RcodeToString[m.Rcode], rrs(m), mdns.RcodeToString[c.rcode], c.want)
		}
		if !m.Authoritative {
			t.Errorf("%s: not authoritative", c.name)
		}
		if len(m.Answer) == 0 && (len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != mdns.TypeSOA) {
			t.Errorf("%s: negative answer without the zone's SOA: %v", c.name, m.Ns)
		}
		for _, rr := range m.Answer {
			if rr.Header().Ttl != TTL {
				t.Errorf("%s: TTL %d, want %d", c.name, rr.Header().Ttl, TTL)
			}
		}
	}
}

func TestIndexSRVAdditional(t *testing.T) {
	svcs, eps := fixture()
	m := ask(t, Build("", svcs, eps), "_pg._tcp.db.shop.svc.cluster.local.", mdns.TypeSRV)
	var extra []string
	for _, rr := range m.Extra {
		extra = append(extra, rr.(*mdns.A).Hdr.Name+" "+rr.(*mdns.A).A.String())
	}
	slices.Sort(extra)
	want := []string{"10-244-2-7.db.shop.svc.cluster.local. 10.244.2.7", "db-0.db.shop.svc.cluster.local. 10.244.1.5"}
	if !slices.Equal(extra, want) {
		t.Fatalf("additional %q, want %q", extra, want)
	}
}

func TestIndexPublishNotReadyAndDomain(t *testing.T) {
	svcs, eps := fixture()
	svcs[1].Spec.PublishNotReadyAddresses = true
	x := Build("Corp.Example", svcs, eps)
	if got := rrs(ask(t, x, "db.shop.svc.corp.example.", mdns.TypeA)); len(got) != 3 {
		t.Fatalf("publishNotReadyAddresses: %q, want 3 addresses", got)
	}
	if m := ask(t, x, "backend.default.svc.cluster.local.", mdns.TypeA); x.InZone("backend.default.svc.cluster.local.") {
		t.Fatalf("cluster.local is in zone corp.example: %v", m)
	}
}

func TestIndexPTR(t *testing.T) {
	svcs, eps := fixture()
	x := Build("", svcs, eps)
	for ip, want := range map[string]string{"10.96.0.10": "backend.default.svc.cluster.local.", "10.244.1.5": "db-0.db.shop.svc.cluster.local."} {
		rev, _ := mdns.ReverseAddr(ip)
		r := new(mdns.Msg)
		r.SetQuestion(rev, mdns.TypePTR)
		m := new(mdns.Msg)
		m.SetReply(r)
		if !(resolver{idx: x}).answerPTR(m, r.Question[0]) || len(m.Answer) != 1 || m.Answer[0].(*mdns.PTR).Ptr != want {
			t.Errorf("PTR %s: %v, want %s", ip, m.Answer, want)
		}
	}
	r := new(mdns.Msg)
	r.SetQuestion("4.3.2.1.in-addr.arpa.", mdns.TypePTR)
	if (resolver{idx: x}).answerPTR(new(mdns.Msg), r.Question[0]) {
		t.Error("an unknown address was answered instead of forwarded")
	}
}

func BenchmarkBuild1000Services(b *testing.B) {
	var svcs []api.ServiceRecord
	var eps []api.Endpoints
	for i := range 1000 {
		name := "svc" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strconv.Itoa(i)
		svcs = append(svcs, api.ServiceRecord{Namespace: "default", Name: name, Spec: corev1.ServiceSpec{
			ClusterIP: "10.96." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1), Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
		ep := api.Endpoints{Namespace: "default", Name: name}
		for j := range 3 {
			ep.Ports = append(ep.Ports, api.Endpoint{ServicePort: "http", IP: "10.244." + strconv.Itoa(j) + "." + strconv.Itoa(i%250+1), Port: 8080, Ready: true})
		}
		eps = append(eps, ep)
	}
	b.ReportAllocs()
	for b.Loop() {
		Build("", svcs, eps)
	}
}
