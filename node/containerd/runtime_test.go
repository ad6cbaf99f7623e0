package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/imagebuild"
	"github.com/keelson/keelson/node"
)

// TestContainerdRuntime runs pods for real: a private containerd and registry, the
// CNI plugins of the machine, the hello test image. The subtests share the env and run
// in order (later ones use the pod of earlier ones).
func TestContainerdRuntime(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	rt := e.rt

	var image string
	t.Run("EnsureImage honours the pull policy", func(t *testing.T) {
		if _, err := rt.EnsureImage(ctx, e.imageRef, "Never"); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("Never before any pull: err = %v, want ErrNotFound", err)
		}
		var err error
		image, err = rt.EnsureImage(ctx, e.imageRef, "IfNotPresent")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(image, "@sha256:") || !strings.HasPrefix(image, strings.TrimSuffix(e.imageRef, ":v1")) {
			t.Fatalf("EnsureImage returned %q, want a digest reference of %s", image, e.imageRef)
		}
		for _, policy := range []string{"Never", "IfNotPresent", "Always"} {
			got, err := rt.EnsureImage(ctx, e.imageRef, policy)
			if err != nil || got != image {
				t.Errorf("%s after pull: %q, %v; want %q", policy, got, err, image)
			}
		}
	})
	if image == "" {
		t.Fatal("no image; the other subtests need it")
	}

	uid := newUID(t)
	var sb node.Sandbox
	var serverID string
	shared := t.TempDir() // the pod's emptyDir
	t.Run("two-container pod shares localhost and an emptyDir", func(t *testing.T) {
		var err error
		sb, err = rt.CreateSandbox(ctx, node.SandboxConfig{PodUID: uid, Namespace: "default", Name: "web-pod", PodCIDR: e.cidr})
		if err != nil {
			t.Fatal(err)
		}
		again, err := rt.CreateSandbox(ctx, node.SandboxConfig{PodUID: uid, Namespace: "default", Name: "web-pod", PodCIDR: e.cidr})
		if err != nil || again.IP != sb.IP {
			t.Fatalf("CreateSandbox twice: %+v, %v; first gave IP %s", again, err, sb.IP)
		}
		vol := []node.Mount{{HostPath: shared, ContainerPath: "/shared"}}
		serverID = e.startContainer(t, sb, image, "server", []string{"serve", ":8080", "-write", "/shared/msg=written-by-server"}, vol)

		// The pod IP is reachable from the host, and the hostname is the pod name.
		waitFor(t, 30*time.Second, "the pod IP to answer", func() (bool, string) {
			body, err := httpGet("http://" + sb.IP + ":8080/")
			if err != nil {
				return false, err.Error()
			}
			return body == "hello from web-pod\n", body
		})

		// A second container reaches the first on 127.0.0.1 (shared network namespace).
		fetch := e.startContainer(t, sb, image, "fetch", []string{"fetch", "http://127.0.0.1:8080/"}, nil)
		if info := waitExited(t, rt, fetch); info.ExitCode != 0 {
			t.Fatalf("fetch over localhost exited %d: %s", info.ExitCode, logOf(t, rt, fetch))
		}
		if log := logOf(t, rt, fetch); !strings.Contains(log, "hello from web-pod") {
			t.Errorf("fetch log = %q, want the server's answer", log)
		}

		// A third reads what the first wrote into the shared volume.
		cat := e.startContainer(t, sb, image, "reader", []string{"cat", "/shared/msg"}, []node.Mount{{HostPath: shared, ContainerPath: "/shared", ReadOnly: true}})
		if info := waitExited(t, rt, cat); info.ExitCode != 0 {
			t.Fatalf("cat exited %d: %s", info.ExitCode, logOf(t, rt, cat))
		}
		if log := logOf(t, rt, cat); log != "written-by-server" {
			t.Errorf("reader log = %q, want the file the server wrote", log)
		}
	})
	if serverID == "" {
		t.Fatal("no running pod; the other subtests need it")
	}

	t.Run("exec and logs", func(t *testing.T) {
		code, err := rt.Exec(ctx, serverID, []string{"/hello", "exit", "3"})
		if err != nil || code != 3 {
			t.Fatalf("Exec exit 3 = %d, %v", code, err)
		}
		var tail strings.Builder
		if err := rt.Logs(ctx, serverID, &tail, node.LogOptions{Tail: 1}); err != nil {
			t.Fatal(err)
		}
		if tail.String() != "listening on :8080\n" {
			t.Errorf("Logs tail 1 = %q", tail.String())
		}
	})

	t.Run("an exiting container reports its exit code", func(t *testing.T) {
		id := e.startContainer(t, sb, image, "exiter", []string{"exit", "7"}, nil)
		info := waitExited(t, rt, id)
		if info.ExitCode != 7 || info.FinishedAt.IsZero() || info.StartedAt.IsZero() {
			t.Errorf("status = %+v, want exit code 7 with start and finish times", info)
		}
		if info.PodUID != uid || info.Name != "exiter" || info.Image != image {
			t.Errorf("identity = %+v", info)
		}
	})

	t.Run("stop: SIGTERM honoured, SIGTERM ignored is killed after grace", func(t *testing.T) {
		ignorer := e.startContainer(t, sb, image, "ignorer", []string{"serve", ":8081", "-ignore-term"}, nil)
		// Its SIGTERM handler is installed once it says it listens.
		waitFor(t, 30*time.Second, "ignorer to listen", func() (bool, string) {
			log := logOf(t, rt, ignorer)
			return strings.Contains(log, "listening"), log
		})
		if err := rt.StopContainer(ctx, ignorer, time.Second); err != nil {
			t.Fatal(err)
		}
		info, err := rt.ContainerStatus(ctx, ignorer)
		if err != nil || info.State != "exited" || info.ExitCode != 137 {
			t.Fatalf("ignorer after stop: %+v, %v; want exited 137", info, err)
		}
		if err := rt.StopContainer(ctx, ignorer, time.Second); err != nil {
			t.Errorf("stopping a stopped container: %v", err)
		}
		if err := rt.StopContainer(ctx, "no-such-container", time.Second); err != nil {
			t.Errorf("stopping a missing container: %v", err)
		}
	})

	t.Run("a restarted runtime adopts sandboxes and containers", func(t *testing.T) {
		before, err := rt.ListContainers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sbsBefore, err := rt.ListSandboxes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rt2, err := New(ctx, e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer rt2.Close()
		after, err := rt2.ListContainers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Errorf("containers differ after restart:\nbefore %+v\nafter  %+v", before, after)
		}
		sbs, err := rt2.ListSandboxes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sbs, sbsBefore) || len(sbs) != 1 || sbs[0].IP != sb.IP {
			t.Errorf("sandboxes after restart = %+v, want the one with IP %s", sbs, sb.IP)
		}
		again, err := rt2.CreateSandbox(ctx, node.SandboxConfig{PodUID: uid, Namespace: "default", Name: "web-pod", PodCIDR: e.cidr})
		if err != nil || again.IP != sb.IP {
			t.Errorf("CreateSandbox after restart: %+v, %v; want IP %s", again, err, sb.IP)
		}
		ips, err := rt2.AllocatedIPs()
		if err != nil || len(ips) != 1 {
			t.Errorf("allocations after restart = %v, %v; want just %s", ips, err, sb.IP)
		}
		if err := rt2.ReconcileIPs(ctx, map[string]bool{uid: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := httpGet("http://" + sb.IP + ":8080/"); err != nil {
			t.Errorf("pod no longer answers after adoption: %v", err)
		}
	})

	t.Run("stop a SIGTERM-handling container within grace", func(t *testing.T) {
		if err := rt.StopContainer(ctx, serverID, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		info, err := rt.ContainerStatus(ctx, serverID)
		if err != nil || info.State != "exited" || info.ExitCode != 0 {
			t.Fatalf("server after stop: %+v, %v; want exited 0 (its own SIGTERM handler)", info, err)
		}
	})

	t.Run("RemoveSandbox frees the IP", func(t *testing.T) {
		cs, err := rt.ListContainers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if err := rt.RemoveContainer(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := rt.ContainerStatus(ctx, c.ID); !errors.Is(err, node.ErrNotFound) {
				t.Errorf("status of removed %s: %v, want ErrNotFound", c.ID, err)
			}
		}
		if err := rt.RemoveSandbox(ctx, uid); err != nil {
			t.Fatal(err)
		}
		if ips, _ := rt.AllocatedIPs(); len(ips) != 0 {
			t.Errorf("allocations after RemoveSandbox = %v", ips)
		}
		if _, err := os.Stat(sb.NetNSPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("netns %s still there: %v", sb.NetNSPath, err)
		}
		if sbs, _ := rt.ListSandboxes(ctx); len(sbs) != 0 {
			t.Errorf("sandboxes after remove = %+v", sbs)
		}
		if err := rt.RemoveSandbox(ctx, uid); err != nil {
			t.Errorf("removing twice: %v", err)
		}
	})

	t.Run("ReconcileIPs releases addresses of lost sandboxes", func(t *testing.T) {
		lost := newUID(t)
		s, err := rt.CreateSandbox(ctx, node.SandboxConfig{PodUID: lost, Name: "lost", PodCIDR: e.cidr})
		if err != nil {
			t.Fatal(err)
		}
		// The agent lost track of it: its record is gone (as if it died mid-way).
		if err := os.Remove(rt.recordPath(sandboxID(lost))); err != nil {
			t.Fatal(err)
		}
		if ips, _ := rt.AllocatedIPs(); ips[s.IP] != sandboxID(lost) {
			t.Fatalf("allocations = %v, want %s held by %s", ips, s.IP, lost)
		}
		if err := rt.ReconcileIPs(ctx, map[string]bool{}); err != nil {
			t.Fatal(err)
		}
		if ips, _ := rt.AllocatedIPs(); len(ips) != 0 {
			t.Errorf("allocations after reconcile = %v", ips)
		}
		if err := rt.RemoveSandbox(ctx, lost); err != nil { // its namespace
			t.Fatal(err)
		}
		if _, err := os.Stat(s.NetNSPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("netns %s still there: %v", s.NetNSPath, err)
		}
	})

	t.Run("the example web image runs as a pod", func(t *testing.T) {
		ref := strings.SplitN(e.imageRef, "/", 2)[0] + "/keelson-example/web:v1"
		if err := imagebuild.BuildAndPush(ctx, "../../manifests-example/images/web", ref); err != nil {
			t.Fatal(err)
		}
		img, err := rt.EnsureImage(ctx, ref, "Always")
		if err != nil {
			t.Fatal(err)
		}
		s, err := rt.CreateSandbox(ctx, node.SandboxConfig{PodUID: newUID(t), Name: "web", PodCIDR: e.cidr})
		if err != nil {
			t.Fatal(err)
		}
		e.startContainer(t, s, img, "web", nil, nil) // the image's own entrypoint
		// /call makes the pod fetch its own localhost: host → pod IP → 127.0.0.1 in the pod.
		waitFor(t, 30*time.Second, "the web pod to answer", func() (bool, string) {
			body, err := httpGet("http://" + s.IP + ":8080/call?url=http://127.0.0.1:8080/healthz")
			if err != nil {
				return false, err.Error()
			}
			return body == "ok\n", body
		})
	})

	t.Run("hostPort reaches the pod through portmap", func(t *testing.T) {
		hostIP := hostAddress(t)
		port := freePort(t)
		s, err := rt.CreateSandbox(ctx, node.SandboxConfig{PodUID: newUID(t), Name: "ports", PodCIDR: e.cidr,
			HostPorts: []node.PortMapping{{HostPort: port, ContainerPort: 8080, Protocol: "TCP"}}})
		if err != nil {
			t.Fatal(err)
		}
		e.startContainer(t, s, image, "server", []string{"serve", ":8080"}, nil)
		url := fmt.Sprintf("http://%s:%d/", hostIP, port)
		waitFor(t, 30*time.Second, url+" to answer", func() (bool, string) {
			body, err := httpGet(url)
			if err != nil {
				return false, err.Error()
			}
			return body == "hello from ports\n", body
		})
	})
}
