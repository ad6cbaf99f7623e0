package containerd

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/node"
)

// TestSandboxHealthy destroys a running pod's network behind the runtime's back, as
// an operator or a buggy tool would: its veth (deleting eth0 in the namespace takes
// the host end with it), then its namespace mount, later the bridge. SandboxHealthy
// says so each time, and what the pod worker does then (stop and remove the
// containers, RemoveSandbox, CreateSandbox, start again) gives the pod a working IP.
func TestSandboxHealthy(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	rt := e.rt
	image, err := rt.EnsureImage(ctx, e.imageRef, "IfNotPresent")
	if err != nil {
		t.Fatal(err)
	}
	uid := newUID(t)
	cfg := node.SandboxConfig{PodUID: uid, Namespace: "default", Name: "drift", PodCIDR: e.cidr}

	healthy := func(t *testing.T, want bool, whyHas string) {
		t.Helper()
		ok, why, err := rt.SandboxHealthy(ctx, uid)
		if err != nil || ok != want || !strings.Contains(why, whyHas) {
			t.Fatalf("SandboxHealthy = %v, %q, %v; want %v with %q", ok, why, err, want, whyHas)
		}
	}
	// start makes the sandbox and the server and waits until the pod IP answers.
	start := func(t *testing.T) (node.Sandbox, string) {
		t.Helper()
		sb, err := rt.CreateSandbox(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		id := e.startContainer(t, sb, image, "server", []string{"serve", ":8080"}, nil)
		waitFor(t, 30*time.Second, "the pod IP "+sb.IP+" to answer", func() (bool, string) {
			body, err := httpGet("http://" + sb.IP + ":8080/")
			if err != nil {
				return false, err.Error()
			}
			return body == "hello from drift\n", body
		})
		healthy(t, true, "")
		return sb, id
	}
	// heal is the pod worker's repair: containers, sandbox (CNI DEL releases the IP
	// even without the namespace), then all of it again.
	heal := func(t *testing.T, id string) (node.Sandbox, string) {
		t.Helper()
		if err := rt.StopContainer(ctx, id, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := rt.RemoveContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := rt.RemoveSandbox(ctx, uid); err != nil {
			t.Fatal(err)
		}
		if ips, err := rt.AllocatedIPs(); err != nil || len(ips) != 0 {
			t.Fatalf("allocations after RemoveSandbox = %v, %v; want none", ips, err)
		}
		chain := masqChain(sandboxID(uid))
		if out, err := exec.Command("iptables", "-w", "-t", "nat", "-S", chain).CombinedOutput(); err == nil {
			t.Fatalf("the pod's masquerading chain %s is left after RemoveSandbox:\n%s", chain, out)
		}
		return start(t)
	}
	run := func(t *testing.T, name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
	}

	sb, id := start(t)
	t.Run("veth and netns deleted", func(t *testing.T) {
		run(t, "nsenter", "--net="+sb.NetNSPath, "ip", "link", "del", "eth0")
		healthy(t, false, "eth0")
		if err := removeNetNS(sb.NetNSPath); err != nil { // what `ip netns del` does
			t.Fatal(err)
		}
		healthy(t, false, "network namespace "+sb.NetNSPath+" is gone")
		sb, id = heal(t, id)
	})
	t.Run("bridge deleted", func(t *testing.T) {
		run(t, "ip", "link", "del", e.cfg.BridgeName)
		healthy(t, false, "bridge "+e.cfg.BridgeName+" is gone")
		sb, id = heal(t, id)
	})
	t.Run("unknown sandbox", func(t *testing.T) {
		if ok, why, err := rt.SandboxHealthy(ctx, newUID(t)); ok || err != nil || why == "" {
			t.Errorf("SandboxHealthy of an unknown pod = %v, %q, %v; want not ok with a reason", ok, why, err)
		}
	})
}

// TestMasqChain pins the bridge plugin's chain naming (seen in iptables -t nat -S).
func TestMasqChain(t *testing.T) {
	if got, want := masqChain("e3929cea-bf3b-a80c-ea3c-f2a94837dbf1"), "CNI-7767e7aa3ff5adcf7b63d6b5"; got != want {
		t.Errorf("masqChain = %s, want %s", got, want)
	}
}
