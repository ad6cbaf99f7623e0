package multinode

import (
	"context"
	"fmt"
	"github.com/keelson/keelson/test/harness"
	"net"
	"net/url"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/node/hostgw"
)

// manifests is the app: an RC whose pods the scheduler spreads over both nodes, a
// ClusterIP Service and a NodePort Service in front of them.
const manifests = `apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: REPLICAS
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: IMAGE
        args: ["-listen", ":8080", "-message", "multinode"]
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
          periodSeconds: 1
        resources:
          requests:
            cpu: 10m
            memory: 16Mi
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: web-np
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
`

// TestTwoNodesInNetworkNamespaces is issue 7's "two agents in separate network
// namespaces reach each other's pods", with Services across the nodes.
func TestTwoNodesInNetworkNamespaces(t *testing.T) {
	env := requireSuite(t)
	c := startCluster(t, env)
	n1, n2 := c.nodes[0], c.nodes[1]

	c.deploy(4)
	st := c.waitConverged(4)

	// a) all pods Running and Ready (waitConverged), on both nodes.
	byNode := st.podsByNode()
	for _, n := range c.nodes {
		if len(byNode[n.Name]) == 0 {
			t.Fatalf("no pod on node %s: %v", n.Name, byNode)
		}
	}
	for _, n := range c.nodes {
		t.Logf("node %s (%s, pods %s): %v", n.Name, n.Address, n.PodCIDR, podNames(byNode[n.Name]))
	}
	p1, p2 := byNode[n1.Name][0], byNode[n2.Name][0]

	// b) host-gw: each node routes the other's pod CIDR via its address, and each node
	// host reaches a pod IP on the other node.
	c.eventually(30*time.Second, "host-gw routes on both nodes", func(context.Context) error {
		if err := hostGWRoute(n1.NetNS, n2.PodCIDR, n2.Address); err != nil {
			return err
		}
		return hostGWRoute(n2.NetNS, n1.PodCIDR, n1.Address)
	})
	c.eventually(30*time.Second, "n1 host reaches a pod on n2", func(ctx context.Context) error {
		return hostnameIs(ctx, n1.NetNS, "http://"+net.JoinHostPort(p2.Status.PodIP, "8080")+"/hostname", p2.Name)
	})
	c.eventually(30*time.Second, "n2 host reaches a pod on n1", func(ctx context.Context) error {
		return hostnameIs(ctx, n2.NetNS, "http://"+net.JoinHostPort(p1.Status.PodIP, "8080")+"/hostname", p1.Name)
	})

	// c) pod to pod across nodes: the pod on n1 fetches the pod on n2 itself.
	call := "http://" + net.JoinHostPort(p1.Status.PodIP, "8080") + "/call?url=" +
		url.QueryEscape("http://"+net.JoinHostPort(p2.Status.PodIP, "8080")+"/hostname")
	c.eventually(30*time.Second, "a pod on n1 reaches a pod on n2", func(ctx context.Context) error {
		body, err := getOnce(ctx, n1.NetNS, call)
		if err != nil {
			return err
		}
		if !strings.Contains(body, p2.Name) {
			return fmt.Errorf("%s answered %q, want the hostname %s", call, body, p2.Name)
		}
		return nil
	})

	// c2) a route deleted behind the agent's back is put back by its resync (5 s).
	if err := harness.IP("-n", n1.NetNS, "route", "del", n2.PodCIDR); err != nil {
		t.Fatalf("delete the route to n2's pods: %v", err)
	}
	c.eventually(30*time.Second, "n1's agent restores its route to n2's pods", func(ctx context.Context) error {
		if err := hostGWRoute(n1.NetNS, n2.PodCIDR, n2.Address); err != nil {
			return err
		}
		return hostnameIs(ctx, n1.NetNS, "http://"+net.JoinHostPort(p2.Status.PodIP, "8080")+"/hostname", p2.Name)
	})

	// d) the ClusterIP, from n2's host, reaches backends on both nodes.
	svc := st.service("web")
	clusterURL := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/hostname"
	c.eventually(time.Minute, "ClusterIP from n2 reaches pods on both nodes", func(ctx context.Context) error {
		seen, err := hostnames(ctx, n2.NetNS, clusterURL, 20)
		if err != nil {
			return err
		}
		if err := onlyPods(seen, st.pods); err != nil {
			return err
		}
		nodes := map[string]bool{}
		for name := range seen {
			nodes[st.nodeOf(name)] = true
		}
		if !nodes[n1.Name] || !nodes[n2.Name] {
			return fmt.Errorf("20 requests reached %v, not pods on both nodes", seen)
		}
		return nil
	})

	// e) the NodePort on node 2's address answers a client on n1 (from any node's pod).
	np := st.service("web-np")
	if len(np.Spec.Ports) != 1 || np.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("service web-np has no node port: %+v", np.Spec.Ports)
	}
	nodePortURL := "http://" + net.JoinHostPort(n2.Address, strconv.Itoa(int(np.Spec.Ports[0].NodePort))) + "/hostname"
	c.eventually(30*time.Second, "NodePort on n2 answers from n1", func(ctx context.Context) error {
		seen, err := hostnames(ctx, n1.NetNS, nodePortURL, 5)
		if err != nil {
			return err
		}
		return onlyPods(seen, st.pods)
	})

	// f) scaling 4 -> 2 changes the endpoints; the ClusterIP reaches only what remains.
	before := readyEndpointIPs(svc.Endpoints)
	c.deploy(2)
	st = c.waitConverged(2)
	after := readyEndpointIPs(st.service("web").Endpoints)
	if len(before) != 4 || len(after) != 2 {
		t.Fatalf("endpoints %v before scaling, %v after: want 4 then 2", before, after)
	}
	for _, ip := range after {
		if !slices.Contains(before, ip) {
			t.Fatalf("endpoint %s after scaling down was not one before (%v)", ip, before)
		}
	}
	for _, n := range c.nodes {
		c.eventually(time.Minute, "ClusterIP from "+n.Name+" reaches only the remaining pods", func(ctx context.Context) error {
			seen, err := hostnames(ctx, n.NetNS, clusterURL, 20)
			if err != nil {
				return err
			}
			if err := onlyPods(seen, st.pods); err != nil {
				return err
			}
			if len(seen) != len(st.pods) {
				return fmt.Errorf("20 requests reached %v, want all of %v", seen, st.podNames())
			}
			return nil
		})
	}
}

// deploy pushes the app with that many replicas, as a user would.
func (c *cluster) deploy(replicas int) {
	c.t.Helper()
	m := strings.NewReplacer("REPLICAS", strconv.Itoa(replicas), "IMAGE", c.env.WebV1).Replace(manifests)
	if err := c.repo.WriteFile("web.yaml", m); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.repo.CommitAndPush(fmt.Sprintf("web: %d replicas", replicas)); err != nil {
		c.t.Fatal(err)
	}
}

// state is what the CLI reports.
type state struct {
	pods     []api.PodRecord
	services []api.ServiceView
}

// waitConverged waits until the cluster runs exactly replicas ready pods of the RC
// (none being stopped) and both Services' ready endpoints are exactly those pods.
func (c *cluster) waitConverged(replicas int) state {
	c.t.Helper()
	var st state
	c.eventually(2*time.Minute, fmt.Sprintf("%d pods Running and Ready behind both services", replicas), func(ctx context.Context) error {
		st = state{}
		if err := c.cliJSON(ctx, &st.pods, "get", "pods"); err != nil {
			return err
		}
		if err := c.cliJSON(ctx, &st.services, "get", "services"); err != nil {
			return err
		}
		if len(st.pods) != replicas {
			return fmt.Errorf("%d pods, want %d", len(st.pods), replicas)
		}
		var ips []string
		for _, p := range st.pods {
			if p.Desire != api.DesireRun || p.Status.Phase != "Running" || !p.Status.Ready || p.Status.PodIP == "" {
				return fmt.Errorf("pod %s on %q: desire %s, %s ready=%v ip=%q %s", p.Name, p.Node, p.Desire,
					p.Status.Phase, p.Status.Ready, p.Status.PodIP, p.Status.Reason)
			}
			ips = append(ips, p.Status.PodIP)
		}
		sort.Strings(ips)
		for _, name := range []string{"web", "web-np"} {
			s := st.service(name)
			if s == nil {
				return fmt.Errorf("service %s not known yet", name)
			}
			if got := readyEndpointIPs(s.Endpoints); !slices.Equal(got, ips) {
				return fmt.Errorf("service %s: ready endpoints %v, want the pods' %v", name, got, ips)
			}
		}
		return nil
	})
	return st
}

func (s state) service(name string) *api.ServiceView {
	for i := range s.services {
		if s.services[i].Name == name {
			return &s.services[i]
		}
	}
	return nil
}

func (s state) podsByNode() map[string][]api.PodRecord {
	m := map[string][]api.PodRecord{}
	for _, p := range s.pods {
		m[p.Node] = append(m[p.Node], p)
	}
	return m
}

func (s state) nodeOf(pod string) string {
	for _, p := range s.pods {
		if p.Name == pod {
			return p.Node
		}
	}
	return ""
}

func (s state) podNames() []string { return podNames(s.pods) }

func podNames(pods []api.PodRecord) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return names
}

// hostGWRoute checks that network namespace ns routes cidr via gw with Keelson's route
// protocol (hostgw.Protocol, "proto 75").
func hostGWRoute(ns, cidr, gw string) error {
	out, err := exec.Command("ip", "-n", ns, "route", "show", "proto", strconv.Itoa(int(hostgw.Protocol))).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s route: %w: %s", ns, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == cidr && f[1] == "via" && f[2] == gw {
			return nil
		}
	}
	return fmt.Errorf("%s has no route %s via %s (proto 75): %q", ns, cidr, gw, out)
}

// readyEndpointIPs lists the distinct IPs of ready endpoints, sorted.
func readyEndpointIPs(eps []api.Endpoint) []string {
	var ips []string
	for _, e := range eps {
		if e.Ready && !slices.Contains(ips, e.IP) {
			ips = append(ips, e.IP)
		}
	}
	sort.Strings(ips)
	return ips
}

// hostnameIs GETs u once from inside ns and checks the answer is want (a pod's
// hostname is its name).
func hostnameIs(ctx context.Context, ns, u, want string) error {
	body, err := getOnce(ctx, ns, u)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(body); got != want {
		return fmt.Errorf("GET %s from %s: hostname %q, want %q", u, ns, got, want)
	}
	return nil
}

// hostnames GETs a /hostname URL count times from inside ns and counts the answers per
// hostname. Every request must succeed.
func hostnames(ctx context.Context, ns, u string, count int) (map[string]int, error) {
	res, err := getFrom(ctx, ns, u, count)
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i, r := range res {
		if r.Err != "" {
			return nil, fmt.Errorf("request %d of %d to %s from %s: %s", i+1, count, u, ns, r.Err)
		}
		seen[strings.TrimSpace(r.Body)]++
	}
	return seen, nil
}

// onlyPods checks every answering hostname is one of pods.
func onlyPods(seen map[string]int, pods []api.PodRecord) error {
	for name := range seen {
		if !slices.ContainsFunc(pods, func(p api.PodRecord) bool { return p.Name == name }) {
			return fmt.Errorf("answer from %q, which is not one of the pods %v", name, seen)
		}
	}
	return nil
}
