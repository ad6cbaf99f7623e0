package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/containerd"
	"github.com/keelson/keelson/node/dns"
	"github.com/keelson/keelson/node/netns"
	"github.com/keelson/keelson/node/nodetest"
	"github.com/keelson/keelson/reconciler"
	"github.com/keelson/keelson/server/client"
)

// Host names of BenchmarkClusterDNS, apart from every other suite's.
const (
	dnsBenchAddr   = "169.254.25.20"
	dnsBenchBridge = "kls-dnsb"
	dnsBenchCIDR   = "10.234.0.0/24"
)

// dnsBenchService is what the pod looks up: a headless Service over the RC "dnsweb",
// so its answer is the ready pods' IPs and changes with every endpoint change.
const dnsBenchService = `apiVersion: v1
kind: Service
metadata: {name: dnsweb}
spec:
  clusterIP: None
  selector: {app: dnsweb}
  ports: [{name: http, port: 80}]
`

// BenchmarkClusterDNS measures the node-local DNS as a pod meets it. One in-process
// server (real raft, reconciler, Git source) and one agent on the fake runtime feed
// a real dns.Server bound on a link-local address on lo; the client is a real pod
// network namespace made by the containerd runtime and CNI (bridge, veth), so every
// query crosses the pod's veth and the bridge as a pod's would.
//
//   - lookups/s and latency: sequential A queries of the Service's name (1 client),
//     then 4 clients at once.
//   - endpoint change → changed answer: the RC is scaled up by one pod 5 times; for
//     each, the time from the new endpoint becoming visible in the API (a blocking
//     query on /v1/endpoints) to the pod's first answer carrying the new address.
func BenchmarkClusterDNS(b *testing.B) {
	testenv.RequireRoot(b)
	testenv.RequireBinary(b, "ip", "iptables")
	sock := testenv.StartContainerd(b)
	ctx := ctxFor(b, 5*time.Minute)

	// The pod: a real CNI network namespace.
	dir := b.TempDir()
	rt, err := containerd.New(ctx, containerd.Config{Address: sock, Namespace: "dns-bench",
		StateDir: filepath.Join(dir, "runtime"), BridgeName: dnsBenchBridge})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = rt.RemoveSandbox(context.Background(), "dns-bench-client")
		_ = rt.Close()
		_ = exec.Command("ip", "link", "del", dnsBenchBridge).Run()
	})
	sb, err := rt.CreateSandbox(ctx, node.SandboxConfig{PodUID: "dns-bench-client", Namespace: "default", Name: "client", PodCIDR: dnsBenchCIDR})
	if err != nil {
		b.Fatal(err)
	}

	// The node's DNS server, fed by a real agent following a real server.
	run, err := dns.StartOnLoopback(context.Background(), netip.MustParseAddr(dnsBenchAddr), dns.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(run.Close)
	srv := run.Server

	repo := rcRepo(b, "dnsweb", 3)
	if err := repo.WriteFile("service.yaml", dnsBenchService); err != nil {
		b.Fatal(err)
	}
	if _, err := repo.CommitAndPush("headless service"); err != nil {
		b.Fatal(err)
	}
	c := startInproc(b, 1, repo.Bare, reconciler.DefaultConfig(), nil)
	// The agent presents its own node certificate (NodeRestriction); the benchmark
	// watches endpoints with the read credential, as a user would.
	startDNSAgent(b, c.nodeClient(b, "dns-node"), srv)
	cli, err := c.creds.Client(c.urls...)
	if err != nil {
		b.Fatal(err)
	}

	name := "dnsweb.default.svc.cluster.local."
	conns := podDNSConns(b, sb.NetNSPath, 4)
	pollUntil(b, time.Minute, 20*time.Millisecond, "3 addresses in the pod's answer", func() bool {
		n, err := lookupCount(conns[0], name)
		return err == nil && n == 3
	})

	b.ResetTimer()
	for range b.N {
		// Sequential lookups from one client.
		lat := make([]time.Duration, 0, 20000)
		start := time.Now()
		for range cap(lat) {
			t0 := time.Now()
			if _, err := lookupCount(conns[0], name); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.ReportMetric(float64(len(lat))/time.Since(start).Seconds(), "lookups/s")
		b.ReportMetric(percentile(lat, 0.50)*1e3, "p50-µs")
		b.ReportMetric(percentile(lat, 0.99)*1e3, "p99-µs")

		// Four clients at once.
		var wg sync.WaitGroup
		const per = 5000
		start = time.Now()
		for _, cn := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					if _, err := lookupCount(cn, name); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(per*len(conns))/time.Since(start).Seconds(), "lookups/s-4-clients")

		// Endpoint change → changed answer.
		var changes []time.Duration
		for n := 4; n <= 8; n++ {
			seen := endpointSeen(ctx, b, cli, "dnsweb", n)
			if err := repo.WriteFile("dnsweb.yaml", strings.ReplaceAll(scaleRC(0, n), "app-00", "dnsweb")); err != nil {
				b.Fatal(err)
			}
			if _, err := repo.CommitAndPush(fmt.Sprintf("scale to %d", n)); err != nil {
				b.Fatal(err)
			}
			var answered time.Time
			pollUntil(b, time.Minute, time.Millisecond, fmt.Sprintf("%d addresses in the pod's answer", n), func() bool {
				got, err := lookupCount(conns[0], name)
				answered = time.Now()
				return err == nil && got == n
			})
			changes = append(changes, answered.Sub(<-seen))
		}
		b.ReportMetric(percentile(changes, 0.50), "ms-endpoint-to-answer-p50")
		b.ReportMetric(percentile(changes, 1), "ms-endpoint-to-answer-max")
	}
}

// startDNSAgent runs an agent on the fake runtime that feeds srv its views.
func startDNSAgent(b *testing.B, cp node.ControlPlane, srv *dns.Server) {
	b.Helper()
	a, err := node.NewAgent(node.Config{
		Name: "dns-node", Address: "192.0.2.1", DataDir: filepath.Join(b.TempDir(), "agent"),
		Capacity: api.Resources{MilliCPU: 16000, MemoryBytes: 64 << 30},
		Runtime:  nodetest.NewFakeRuntime(), ControlPlane: cp, Logger: slog.New(slog.DiscardHandler),
		DNS: srv, DNSAddress: dnsBenchAddr,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
}

// podDNSConns opens n UDP sockets inside the pod's network namespace, connected to
// the node's DNS address: a socket stays in the namespace it was made in.
func podDNSConns(b *testing.B, nsPath string, n int) []*mdns.Conn {
	b.Helper()
	var out []*mdns.Conn
	for range n {
		var conn net.Conn
		if err := netns.Do(nsPath, func() error {
			var err error
			conn, err = net.Dial("udp", dnsBenchAddr+":53")
			return err
		}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close() })
		out = append(out, &mdns.Conn{Conn: conn})
	}
	return out
}

// lookupCount sends one A query and returns how many addresses came back.
func lookupCount(c *mdns.Conn, name string) (int, error) {
	q := new(mdns.Msg)
	q.SetQuestion(name, mdns.TypeA)
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if err := c.WriteMsg(q); err != nil {
		return 0, err
	}
	m, err := c.ReadMsg()
	if err != nil {
		return 0, err
	}
	if m.Id != q.Id || m.Rcode != mdns.RcodeSuccess {
		return 0, fmt.Errorf("answer id %d rcode %s", m.Id, mdns.RcodeToString[m.Rcode])
	}
	return len(m.Answer), nil
}

// endpointSeen follows /v1/endpoints with blocking queries and delivers the moment
// the Service first has n ready endpoints.
func endpointSeen(ctx context.Context, b *testing.B, cli *client.Client, svc string, n int) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		var index uint64
		for ctx.Err() == nil {
			eps, idx, err := cli.Endpoints(ctx, client.QueryOptions{Index: index, Wait: 10 * time.Second})
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
				continue
			}
			index = idx
			for _, e := range eps {
				ready := 0
				for _, p := range e.Ports {
					if p.Ready {
						ready++
					}
				}
				if e.Name == svc && ready == n {
					out <- time.Now()
					return
				}
			}
		}
	}()
	return out
}
