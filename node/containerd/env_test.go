package containerd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/imagebuild"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/node"
)

// testEnv is a private containerd and registry with the hello image pushed, and a
// Runtime on a fresh state directory, bridge and pod CIDR (so parallel test runs on
// one machine never share addresses or interfaces).
type testEnv struct {
	rt       *Runtime
	cfg      Config
	sock     string
	imageRef string // tag reference in the private registry
	cidr     string
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "go", "iptables", "ip")
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		testenv.RequireFile(t, filepath.Join("/usr/lib/cni", p))
	}
	sock := testenv.StartContainerd(t)
	reg := testenv.StartRegistry(t)
	ctx := context.Background()
	ref := reg + "/keelson-test/hello:v1"
	if err := imagebuild.BuildAndPush(ctx, "../../internal/imagebuild/testdata/hello", ref); err != nil {
		t.Fatal(err)
	}

	state := t.TempDir()
	cfg := Config{
		Address:            sock,
		Namespace:          "keelson",
		StateDir:           state,
		BridgeName:         "kt" + randHex(t, 4),
		InsecureRegistries: []string{reg},
	}
	rt, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{rt: rt, cfg: cfg, sock: sock, imageRef: ref, cidr: freeCIDR(t)}
	t.Cleanup(func() { e.cleanup(t) })
	return e
}

// cleanup removes everything the test made, whatever state a failure left it in:
// containers, sandboxes (releasing their IPs), mounts, the bridge.
func (e *testEnv) cleanup(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := New(ctx, e.cfg) // the test may have closed its own
	if err == nil {
		if cs, err := rt.ListContainers(ctx); err == nil {
			for _, c := range cs {
				if err := rt.RemoveContainer(ctx, c.ID); err != nil {
					t.Errorf("cleanup container %s: %v", c.ID, err)
				}
			}
		}
		if sbs, err := rt.ListSandboxes(ctx); err == nil {
			for _, s := range sbs {
				if err := rt.RemoveSandbox(ctx, s.PodUID); err != nil {
					t.Errorf("cleanup sandbox %s: %v", s.PodUID, err)
				}
			}
		}
		_ = rt.Close()
	}
	_ = e.rt.Close()
	if err := devenv.UnmountUnder(e.cfg.StateDir); err != nil {
		t.Errorf("cleanup mounts: %v", err)
	}
	if out, err := exec.Command("ip", "link", "del", e.cfg.BridgeName).CombinedOutput(); err != nil && !bytes.Contains(out, []byte("Cannot find device")) {
		t.Errorf("cleanup bridge %s: %v: %s", e.cfg.BridgeName, err, out)
	}
}

// freeCIDR picks a random 10.x.y.0/24 that no interface address or route of the host
// overlaps.
func freeCIDR(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		t.Fatalf("ip route: %v", err)
	}
	var used []*net.IPNet
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if dst == "local" || dst == "broadcast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if _, n, err := net.ParseCIDR(dst); err == nil && dst != "0.0.0.0/0" {
			used = append(used, n)
		}
	}
	for range 100 {
		b, _ := rand.Int(rand.Reader, big.NewInt(50*256))
		x, y := 200+b.Int64()/256, b.Int64()%256
		cidr := fmt.Sprintf("10.%d.%d.0/24", x, y)
		_, n, _ := net.ParseCIDR(cidr)
		free := true
		for _, u := range used {
			if u.Contains(n.IP) || n.Contains(u.IP) {
				free = false
			}
		}
		if free {
			return cidr
		}
	}
	t.Fatal("no free 10.x.y.0/24 for the test's pods")
	return ""
}

func randHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)[:n*2]
}

// newUID returns a UUID-shaped pod UID.
func newUID(t testing.TB) string {
	h := randHex(t, 16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// waitFor polls cond until it reports true or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.PollDetail(t, timeout, 50*time.Millisecond, what, cond)
}

// waitExited waits for a container to exit and returns its status.
func waitExited(t testing.TB, rt *Runtime, id string) node.ContainerInfo {
	t.Helper()
	var info node.ContainerInfo
	waitFor(t, 30*time.Second, id+" to exit", func() (bool, string) {
		var err error
		info, err = rt.ContainerStatus(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return info.State == "exited", info.State
	})
	return info
}

// logOf returns a container's whole log.
func logOf(t testing.TB, rt *Runtime, id string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := rt.Logs(context.Background(), id, &buf, node.LogOptions{}); err != nil {
		t.Fatalf("logs of %s: %v", id, err)
	}
	return buf.String()
}

// httpGet fetches url with a short timeout.
func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// startContainer creates and starts one container of a pod.
func (e *testEnv) startContainer(t testing.TB, sb node.Sandbox, image, name string, args []string, mounts []node.Mount) string {
	t.Helper()
	ctx := context.Background()
	id, err := e.rt.CreateContainer(ctx, node.ContainerConfig{
		PodUID: sb.PodUID, PodNamespace: sb.Namespace, PodName: sb.Name, Name: name,
		Image: image, Args: args, NetNSPath: sb.NetNSPath, Mounts: mounts,
		LogPath: filepath.Join(e.cfg.StateDir, "logs", sb.PodUID, name+".log"),
		Env:     []string{"GREETING=hi"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// hostAddress is a non-loopback IPv4 address of this machine.
func hostAddress(t testing.TB) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !strings.HasPrefix(n.IP.String(), "10.") {
			return n.IP.String()
		}
	}
	t.Fatal("no non-loopback IPv4 address on this machine")
	return ""
}

// freePort is a TCP port nobody listens on right now.
func freePort(t testing.TB) int32 {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}
