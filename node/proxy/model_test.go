package proxy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestBuildModelSkipsHeadlessExternalNameAndNotReady(t *testing.T) {
	eps := testEndpoints("10.244.1.10", "10.244.1.11")
	eps[0].Ports[1].Ready = false // web: only 10.244.1.10 is ready
	ports, skipped := buildModel(testServices(), eps)
	if len(skipped) != 0 {
		t.Fatalf("skipped %v", skipped)
	}
	ids := map[string]servicePort{}
	for _, p := range ports {
		ids[p.ID] = p
	}
	if len(ids) != 3 {
		t.Fatalf("got %v, want web, dns and sticky only (no headless, no ExternalName)", ids)
	}
	web := ids["default/web/tcp/80"]
	if len(web.Backends) != 1 || web.Backends[0].String() != "10.244.1.10:8080" || web.NodePort != webNP {
		t.Fatalf("web = %+v", web)
	}
	dns := ids["default/dns/udp/53"]
	if dns.Protocol != corev1.ProtocolUDP || len(dns.Backends) != 2 {
		t.Fatalf("dns = %+v", dns)
	}
	if s := ids["default/sticky/tcp/81"]; s.Affinity.Seconds() != 60 {
		t.Fatalf("sticky affinity %v, want 60s", s.Affinity)
	}
}
