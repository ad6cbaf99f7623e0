package node

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

func TestResolvConf(t *testing.T) {
	host := parseResolvConf([]byte("# host\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example\noptions rotate timeout:2\n"))
	two := "2"
	cases := []struct {
		name string
		spec corev1.PodSpec
		dns  string
		want string
	}{
		{"default policy is ClusterFirst", corev1.PodSpec{}, "169.254.20.10",
			"nameserver 169.254.20.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		{"ClusterFirstWithHostNet acts as ClusterFirst", corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet}, "169.254.20.10",
			"nameserver 169.254.20.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n"},
		{"ClusterFirst without cluster DNS is Default", corev1.PodSpec{}, "",
			"nameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example\noptions rotate timeout:2\n"},
		{"Default", corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, "169.254.20.10",
			"nameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example\noptions rotate timeout:2\n"},
		{"None", corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"}, Options: []corev1.PodDNSConfigOption{{Name: "edns0"}}}}, "169.254.20.10",
			"nameserver 1.1.1.1\nsearch a.example\noptions edns0\n"},
		{"ClusterFirst merged with dnsConfig", corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"169.254.20.10", "1.1.1.1", "8.8.8.8", "9.9.9.9"}, Searches: []string{"cluster.local", "b.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "single-request"}}}}, "169.254.20.10",
			"nameserver 169.254.20.10\nnameserver 1.1.1.1\nnameserver 8.8.8.8\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example b.example\noptions ndots:2 single-request\n"},
	}
	for _, c := range cases {
		got := resolvConf(&c.spec, "shop", "cluster.local", c.dns, host)
		_, body, _ := strings.Cut(got, "\n") // the comment line names the policy
		if body != c.want {
			t.Errorf("%s:\n%s\nwant:\n%s", c.name, body, c.want)
		}
	}
}

func TestHostsAndHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-bcd"
	p := &api.PodRecord{Namespace: "shop", Name: long}
	if h, f := podHostnames(p, "cluster.local"); h != strings.Repeat("a", 62) || f != "" {
		t.Fatalf("hostname of a long pod name: %q %q", h, f)
	}
	p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db"
	h, f := podHostnames(p, "cluster.local")
	if h != "db-0" || f != "db-0.db.shop.svc.cluster.local" {
		t.Fatalf("hostname %q fqdn %q", h, f)
	}
	hosts := hostsFile("10.244.0.5", h, f, []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar"}}})
	for _, line := range []string{"127.0.0.1\tlocalhost\n", "10.244.0.5\tdb-0.db.shop.svc.cluster.local\tdb-0\n", "10.1.2.3\tfoo.local\tbar\n"} {
		if !strings.Contains(hosts, line) {
			t.Errorf("hosts lacks %q:\n%s", line, hosts)
		}
	}
}
