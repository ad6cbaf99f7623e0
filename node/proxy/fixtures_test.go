package proxy

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// Three Services over the test backends: web (TCP 80, NodePort 30080), dns (UDP 53)
// and sticky (TCP 81, ClientIP affinity).
const (
	webIP    = "10.96.0.10"
	dnsIP    = "10.96.0.11"
	stickyIP = "10.96.0.12"
	webNP    = 30080
)

func testServices() []api.ServiceRecord {
	timeout := int32(60)
	return []api.ServiceRecord{
		{Namespace: "default", Name: "web", Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: webIP,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: webNP, Protocol: corev1.ProtocolTCP}},
		}},
		{Namespace: "default", Name: "dns", Spec: corev1.ServiceSpec{
			ClusterIP: dnsIP,
			Ports:     []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}},
		}},
		{Namespace: "default", Name: "sticky", Spec: corev1.ServiceSpec{
			ClusterIP: stickyIP, SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}},
			Ports:                 []corev1.ServicePort{{Port: 81}},
		}},
		{Namespace: "default", Name: "headless", Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Port: 80}},
		}},
		{Namespace: "default", Name: "ext", Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeExternalName, ExternalName: "example.org",
		}},
	}
}

// testEndpoints puts the given pod IPs behind all three Services.
func testEndpoints(ips ...string) []api.Endpoints {
	var web, dns, sticky []api.Endpoint
	for _, ip := range ips {
		web = append(web, api.Endpoint{ServicePort: "http", Protocol: corev1.ProtocolTCP, IP: ip, Port: backendHTTP, Ready: true})
		dns = append(dns, api.Endpoint{Protocol: corev1.ProtocolUDP, IP: ip, Port: backendUDP, Ready: true})
		sticky = append(sticky, api.Endpoint{Protocol: corev1.ProtocolTCP, IP: ip, Port: backendHTTP, Ready: true})
	}
	return []api.Endpoints{
		{Namespace: "default", Name: "web", Ports: web},
		{Namespace: "default", Name: "dns", Ports: dns},
		{Namespace: "default", Name: "sticky", Ports: sticky},
	}
}
