package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/node/netns"

	"github.com/keelson/keelson/internal/testenv"
)

// The tests build a miniature node out of network namespaces so nothing touches the
// host's tables:
//
//	client ns 10.123.0.2 ──veth── node ns 10.123.0.1 (the node address)
//	                                   kbr0 10.244.1.1/24 (pod bridge, hairpin on)
//	                                    ├─ pod0 ns 10.244.1.10  backend "pod0"
//	                                    ├─ pod1 ns 10.244.1.11  backend "pod1"
//	                                    └─ pod2 ns 10.244.1.12  a client pod
//
// Backends are this test binary re-executed inside the pod namespace (see TestMain).

const (
	backendEnv  = "KEELSON_PROXY_TEST_BACKEND"
	backendHTTP = 8080
	backendUDP  = 5353
	nodeAddr    = "10.123.0.1"
	bridgeName  = "kbr0"
)

func TestMain(m *testing.M) {
	if id := os.Getenv(backendEnv); id != "" {
		if err := runBackend(id); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runBackend answers HTTP GETs and UDP datagrams with its identity until killed.
func runBackend(id string) error {
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", backendHTTP))
	if err != nil {
		return err
	}
	u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", backendUDP))
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			_, from, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = u.WriteTo([]byte(id), from)
		}
	}()
	fmt.Println("ready")
	return http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, id)
	}))
}

type topo struct {
	node, client string // netns names
	pods         []string
	podIPs       []string
}

func nsPath(name string) string { return "/var/run/netns/" + name }

func run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func uniq(t testing.TB) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "kp" + hex.EncodeToString(b)
}

func addNS(t testing.TB, name string) {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
}

// newTopo builds the namespaces above with backends running in the first nBackends pods.
func newTopo(t testing.TB, nBackends int) *topo {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "nft", "ip")
	u := uniq(t)
	tp := &topo{node: u + "-node", client: u + "-cli"}
	addNS(t, tp.node)
	addNS(t, tp.client)
	run(t, "ip", "netns", "exec", tp.node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "-n", tp.node, "link", "add", bridgeName, "type", "bridge")
	run(t, "ip", "-n", tp.node, "addr", "add", "10.244.1.1/24", "dev", bridgeName)
	run(t, "ip", "-n", tp.node, "link", "set", bridgeName, "up")
	run(t, "ip", "-n", tp.node, "link", "add", "ext0", "type", "veth", "peer", "name", "eth0", "netns", tp.client)
	run(t, "ip", "-n", tp.node, "addr", "add", nodeAddr+"/24", "dev", "ext0")
	run(t, "ip", "-n", tp.node, "link", "set", "ext0", "up")
	run(t, "ip", "-n", tp.client, "addr", "add", "10.123.0.2/24", "dev", "eth0")
	run(t, "ip", "-n", tp.client, "link", "set", "eth0", "up")
	// The node's default route, as on a real host: ClusterIPs are routed somewhere
	// before the output hook DNATs them.
	run(t, "ip", "-n", tp.node, "route", "add", "default", "via", "10.123.0.2")
	for i := 0; i < 3; i++ {
		pod := fmt.Sprintf("%s-p%d", u, i)
		ip := fmt.Sprintf("10.244.1.%d", 10+i)
		veth := fmt.Sprintf("veth%d", i)
		addNS(t, pod)
		run(t, "ip", "-n", tp.node, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", pod)
		run(t, "ip", "-n", tp.node, "link", "set", veth, "master", bridgeName)
		run(t, "ip", "-n", tp.node, "link", "set", veth, "type", "bridge_slave", "hairpin", "on")
		run(t, "ip", "-n", tp.node, "link", "set", veth, "up")
		run(t, "ip", "-n", pod, "addr", "add", ip+"/24", "dev", "eth0")
		run(t, "ip", "-n", pod, "link", "set", "eth0", "up")
		run(t, "ip", "-n", pod, "route", "add", "default", "via", "10.244.1.1")
		tp.pods = append(tp.pods, pod)
		tp.podIPs = append(tp.podIPs, ip)
		if i < nBackends {
			startBackend(t, pod, fmt.Sprintf("pod%d", i))
		}
	}
	return tp
}

func startBackend(t testing.TB, ns, id string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), backendEnv+"="+id)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start backend %s: %v", id, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("backend %s did not start: %q %v", id, line, err)
	}
}

// dialIn dials from inside a namespace.
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := netns.Do(nsPath(ns), func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// httpClient makes requests from inside ns; keepAlive=false opens a new connection
// (a new source port, the same source address) for every request.
func httpClient(ns string, keepAlive bool) *http.Client {
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: dialIn(ns), DisableKeepAlives: !keepAlive, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
	}}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// udpAsk sends one datagram from ns and returns the reply.
func udpAsk(ns, addr string) (string, error) {
	c, err := dialIn(ns)(context.Background(), "udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write([]byte("who")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// eventually polls f until it succeeds or the deadline passes.
func eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	testenv.EventuallyNoError(t, 10*time.Second, what, f)
}

// seen collects the identities answering n requests.
func seen(t testing.TB, n int, ask func() (string, error)) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		id, err := ask()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got[id]++
	}
	return got
}
