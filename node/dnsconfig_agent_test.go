package node_test

import (
	"os"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/node/nodetest"
)

// fakeDNS records what the agent feeds the DNS server.
type fakeDNS struct {
	mu     sync.Mutex
	domain string
	svcs   int
}

func (f *fakeDNS) Update(domain string, services []api.ServiceRecord, _ []api.Endpoints) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.domain, f.svcs = domain, len(services)
}

// TestAgentGivesPodsTheirNames: the agent feeds the DNS server each view, and every
// container gets the pod's hostname and read-only resolv.conf and hosts files naming
// the node's DNS address and the pod's IP.
func TestAgentGivesPodsTheirNames(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cfg := testConfig(t, rt, cp)
	d := &fakeDNS{}
	cfg.DNS, cfg.DNSAddress = d, "169.254.20.10"
	runAgent(t, cfg)
	cp.setServices([]api.ServiceRecord{{Namespace: "default", Name: "backend"}})
	p := pod("p1", ctr("app"))
	p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
	p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.9.9.9", Hostnames: []string{"legacy"}}}
	cp.setPod(p)
	r := waitStatus(t, cp, "p1", "Running", running)
	waitFor(t, "the DNS server fed", func() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.svcs == 1 })
	if d.domain != "cluster.local" {
		t.Errorf("DNS domain %q", d.domain)
	}
	ccfg, _ := rt.ContainerConfigOf(nodetest.FakeContainerID("p1", "app", 0))
	if ccfg.Hostname != "web-0" {
		t.Errorf("hostname %q", ccfg.Hostname)
	}
	files := map[string]string{}
	for _, m := range ccfg.Mounts {
		b, err := os.ReadFile(m.HostPath)
		if err != nil || !m.ReadOnly {
			t.Fatalf("mount %+v: %v", m, err)
		}
		files[m.ContainerPath] = string(b)
	}
	if !strings.Contains(files["/etc/resolv.conf"], "nameserver 169.254.20.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local") {
		t.Errorf("resolv.conf:\n%s", files["/etc/resolv.conf"])
	}
	if !strings.Contains(files["/etc/hosts"], r.Status.PodIP+"\tweb-0.web.default.svc.cluster.local\tweb-0\n") || !strings.Contains(files["/etc/hosts"], "10.9.9.9\tlegacy\n") {
		t.Errorf("hosts:\n%s", files["/etc/hosts"])
	}
}
