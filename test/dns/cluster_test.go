package dns

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
)

// Names and ranges no other suite uses, so this suite never meets another's pods,
// bridges, tables or DNS addresses on the host.
const (
	clusterCIDR   = "10.233.0.0/16"
	serviceCIDR   = "10.113.0.0/16"
	clusterDomain = "kdns.internal" // not cluster.local: proves --cluster-domain reaches the pods
	upstreamIP    = "127.0.25.53"   // the test's stand-in for the host's resolver
	namespace     = "shop"
)

// agents are the two nodes, sharing this host: each has its own bridge, nftables
// table and cluster DNS address.
var agents = []struct{ name, dnsAddress string }{{"dns-a", "169.254.25.10"}, {"dns-b", "169.254.25.11"}}

// Outside names the stand-in resolver knows.
const (
	outsideName = "outside.keelson.test."
	outsideIP   = "192.0.2.44"
	partnerName = "api.partner.test."
	partnerIP   = "192.0.2.45"
)

func agentSpec(i int, ns string) harness.RuntimeSpec {
	return harness.RuntimeSpec{Bridge: fmt.Sprintf("kls-dns%d", i), ProxyTable: fmt.Sprintf("kls_dns%d", i), Namespace: fmt.Sprintf("dns-e2e%s-%d", ns, i)}
}

var clusterSeq atomic.Int32

// upstream is a real DNS server on upstreamIP:53 (UDP and TCP): the agent's
// --dns-upstream. It counts the questions it is asked, by name.
type upstream struct {
	asked map[string]*atomic.Int64
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{asked: map[string]*atomic.Int64{outsideName: {}, partnerName: {}}}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		ip := map[string]string{outsideName: outsideIP, partnerName: partnerIP}[strings.ToLower(q.Name)]
		if n := u.asked[strings.ToLower(q.Name)]; n != nil {
			n.Add(1)
		}
		switch {
		case ip == "":
			m.Rcode = mdns.RcodeNameError
		case q.Qtype == mdns.TypeA:
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30}, A: net.ParseIP(ip)})
		}
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", upstreamIP+":53")
	if err != nil {
		t.Fatalf("stand-in resolver: %v", err)
	}
	ln, err := net.Listen("tcp", upstreamIP+":53")
	if err != nil {
		t.Fatalf("stand-in resolver: %v", err)
	}
	us, ts := &mdns.Server{PacketConn: pc, Handler: h}, &mdns.Server{Listener: ln, Handler: h}
	go func() { _ = us.ActivateAndServe() }()
	go func() { _ = ts.ActivateAndServe() }()
	t.Cleanup(func() { _ = us.Shutdown(); _ = ts.Shutdown() })
	return u
}

// kcluster is one server and two agents following a bare Git repository.
type kcluster struct {
	t     *testing.T
	env   *harness.Env
	dir   string // the cluster's data: <dir>/<agent name> is an agent's --data-dir
	procs *harness.Cluster
	c     *client.Client
	repo  *devenv.Repo
	specs []harness.RuntimeSpec
}

func newCluster(t *testing.T) *kcluster {
	t.Helper()
	env := shared.Require(t)
	dir, err := os.MkdirTemp("", "keelson-dns-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = devenv.UnmountUnder(dir); _ = os.RemoveAll(dir) })
	addr, err := harness.NodeAddress()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := devenv.NewRepo(filepath.Join(dir, "git"), "")
	if err != nil {
		t.Fatal(err)
	}
	k := &kcluster{t: t, env: env, repo: repo, dir: filepath.Join(dir, "cluster")}
	seq := fmt.Sprint(clusterSeq.Add(1))
	opts := harness.ClusterOptions{
		Bin: env.Bin, Dir: k.dir, Servers: 1, RepoURL: repo.Bare,
		ServerArgs: []string{"--poll-interval", "500ms", "--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR,
			"--cluster-domain", clusterDomain},
	}
	for i, a := range agents {
		s := agentSpec(i, seq)
		s.Containerd = env.Containerd
		s.StateDir = filepath.Join(opts.Dir, a.name, "runtime")
		k.specs = append(k.specs, s)
		opts.Agents = append(opts.Agents, harness.AgentOptions{Name: a.name, ListenHost: addr, Args: []string{
			"--address", addr, "--containerd", env.Containerd, "--containerd-namespace", s.Namespace,
			"--bridge", s.Bridge, "--proxy-table", s.ProxyTable, "--cluster-cidr", clusterCIDR,
			"--host-gw=false", "--registry-insecure", env.Registry,
			"--dns-address", a.dnsAddress, "--dns-upstream", upstreamIP,
		}})
	}
	procs, err := harness.StartCluster(opts)
	if err != nil {
		t.Fatal(err)
	}
	k.procs = procs
	k.c = procs.MustClient()
	unregister := shared.OnInterrupt(k.teardown)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs (tails):\n%s", procs.Logs(6000))
		}
		k.teardown()
		unregister()
		for i, a := range agents {
			if left := k.specs[i].Leftovers(context.Background()); left != "" {
				t.Errorf("left behind by %s: %s", a.name, left)
			}
			if hasLoopbackAddress(a.dnsAddress) {
				t.Errorf("agent %s left %s on lo", a.name, a.dnsAddress)
			}
		}
	})
	testenv.PollDetail(t, time.Minute, 200*time.Millisecond, "both nodes Ready", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nodes, _, err := k.c.Nodes(ctx, client.QueryOptions{})
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, n := range nodes {
			if n.Status == api.NodeReady {
				ready++
			}
		}
		return ready == len(agents), fmt.Sprintf("%d of %d Ready", ready, len(agents))
	})
	return k
}

func (k *kcluster) teardown() {
	k.procs.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range k.specs {
		if err := s.RemoveAll(ctx); err != nil {
			k.t.Logf("clean agent: %v", err)
		}
	}
}

func hasLoopbackAddress(ip string) bool {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return false
	}
	addrs, _ := lo.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
			return true
		}
	}
	return false
}

// push commits files (name → content) and pushes them as a user would.
func (k *kcluster) push(msg string, files map[string]string) {
	k.t.Helper()
	for name, content := range files {
		if err := k.repo.WriteFile(name, strings.ReplaceAll(content, "REGISTRY", k.env.Registry)); err != nil {
			k.t.Fatal(err)
		}
	}
	if _, err := k.repo.CommitAndPush(msg); err != nil {
		k.t.Fatal(err)
	}
}

// readyPods waits until want pods run and are ready, and returns them by name.
func (k *kcluster) readyPods(timeout time.Duration, want int) map[string]api.PodRecord {
	k.t.Helper()
	var out map[string]api.PodRecord
	testenv.PollDetail(k.t, timeout, 200*time.Millisecond, fmt.Sprintf("%d pods Running and ready", want), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pods, _, err := k.c.Pods(ctx, client.QueryOptions{})
		if err != nil {
			return false, err.Error()
		}
		out = map[string]api.PodRecord{}
		var notReady []string
		for _, p := range pods {
			if p.Desire != api.DesireRun {
				continue
			}
			if p.Status.Phase != corev1.PodRunning || !p.Status.Ready {
				notReady = append(notReady, fmt.Sprintf("%s: %s %s %s", p.Name, p.Status.Phase, p.Status.Reason, p.Status.Message))
				continue
			}
			out[p.Name] = p
		}
		return len(out) == want && len(notReady) == 0, fmt.Sprintf("%d ready; not ready: %v", len(out), notReady)
	})
	return out
}

// fromPod asks a pod's web server (GET path on its pod IP) and returns the body of a 200.
func fromPod(ctx context.Context, pod api.PodRecord, path string, query url.Values) (string, error) {
	u := "http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + path
	if query != nil {
		u += "?" + query.Encode()
	}
	body, err := harness.HTTPGet(ctx, u)
	return strings.TrimSpace(body), err
}
