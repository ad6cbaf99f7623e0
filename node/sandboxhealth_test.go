package node_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/nodetest"
	corev1 "k8s.io/api/core/v1"
)

// TestBrokenSandboxIsRecreated: a pod whose network was destroyed behind the agent's
// back (the fake's BreakSandbox) has its containers killed and made again, init
// containers first, in a new sandbox; the restart counts go up and a container that
// waits to start again reports its last exit as SandboxChanged, in the runtime's words.
func TestBrokenSandboxIsRecreated(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.ScriptContainer("init", nodetest.ContainerScript{Exit: true, ExitCode: 0})
	runAgent(t, testConfig(t, rt, cp))
	app := ctr("app")
	app.ImagePullPolicy = corev1.PullAlways // its pull is held back below, to see it waiting
	p := pod("u1", app, ctr("sidecar"))
	p.Spec.InitContainers = append(p.Spec.InitContainers, ctr("init"))
	cp.setPod(p)
	waitStatus(t, cp, "u1", "Running", running)
	waitFor(t, "health checks of the healthy sandbox", func() bool { return rt.Stats().HealthChecks >= 3 })
	if s := rt.Stats(); s.SandboxesCreated != 1 || s.SandboxesRemoved != 0 || s.ContainersCreated != 3 {
		t.Fatalf("a healthy sandbox was touched: %+v", s)
	}

	const why = "network namespace /var/run/netns/fake-u1 is gone"
	rt.FailPull(app.Image, errors.New("registry unreachable"))
	if err := rt.BreakSandbox("u1", why); err != nil {
		t.Fatal(err)
	}
	// While app cannot start again, its status says why its last attempt ended.
	waitStatus(t, cp, "u1", "app waiting after SandboxChanged", func(r api.PodStatusReport) bool {
		c := r.Status.Containers[0]
		return c.Name == "app" && c.State == api.ContainerWaiting && c.RestartCount == 0 &&
			strings.Contains(c.Message, "last exit: "+node.ReasonSandboxChanged+": "+why)
	})
	rt.FailPull(app.Image, nil)
	r := waitStatus(t, cp, "u1", "Running again with every container restarted", func(r api.PodStatusReport) bool {
		if !running(r) || len(r.Status.InitContainers) != 1 {
			return false
		}
		for _, c := range append(r.Status.Containers, r.Status.InitContainers...) {
			if c.RestartCount != 1 {
				return false
			}
		}
		return true
	})
	if r.Status.PodIP == "" {
		t.Error("no pod IP after the sandbox was re-created")
	}
	s := rt.Stats()
	if s.SandboxesCreated != 2 || s.SandboxesRemoved != 1 || s.ContainersStopped != 2 || s.ContainersCreated != 6 {
		t.Errorf("runtime calls %+v, want one sandbox removed and made again, 2 stops, 3 more containers", s)
	}
	for _, name := range []string{"init", "app", "sidecar"} {
		cfg, ok := rt.ContainerConfigOf(nodetest.FakeContainerID("u1", name, 1))
		if !ok {
			t.Errorf("no attempt 1 of %s", name)
			continue
		}
		if cfg.NetNSPath == "" {
			t.Errorf("attempt 1 of %s joins no sandbox", name)
		}
	}
	if n := len(podContainers(t, rt, "u1")); n != 3 {
		t.Errorf("%d containers in the runtime, want the 3 new attempts (old ones removed)", n)
	}
}

// TestAdoptedBrokenSandboxIsRecreated: the pod's network was destroyed while no agent
// ran (its netns removed, as after `ip netns del` or a reboot that kept containerd's
// state). The restarted agent must not adopt the containers into the dead sandbox (a
// new namespace at the same path would look healthy forever): it kills them and makes
// the sandbox and the containers again, once.
func TestAdoptedBrokenSandboxIsRecreated(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cfg := testConfig(t, rt, cp)
	_, stop := runAgent(t, cfg)
	cp.setPod(pod("u1", ctr("app")))
	cp.setPod(pod("ok", ctr("app")))
	waitStatus(t, cp, "u1", "Running", running)
	waitStatus(t, cp, "ok", "Running", running)
	stop()

	if err := rt.RemoveNetNS("u1"); err != nil {
		t.Fatal(err)
	}
	cp.forget()
	before := rt.Stats()
	runAgent(t, cfg) // same runtime, same data dir
	r := waitStatus(t, cp, "u1", "Running again in a new sandbox", func(r api.PodStatusReport) bool {
		return running(r) && r.Status.Containers[0].RestartCount == 1
	})
	if c := r.Status.Containers[0]; c.ContainerID != nodetest.FakeContainerID("u1", "app", 1) {
		t.Errorf("u1's container after the restart: %+v; want attempt 1", c)
	}
	if c := waitStatus(t, cp, "ok", "Running", running).Status.Containers[0]; c.RestartCount != 0 {
		t.Errorf("the pod with a healthy sandbox was restarted: %+v", c)
	}
	s := rt.Stats()
	if n, m := s.SandboxesCreated-before.SandboxesCreated, s.SandboxesRemoved-before.SandboxesRemoved; n != 1 || m != 1 {
		t.Errorf("%d sandboxes made and %d removed after the restart, want 1 and 1 (u1's only)", n, m)
	}
	if n := s.ContainersCreated - before.ContainersCreated; n != 1 {
		t.Errorf("%d containers created after the restart, want 1 (u1's next attempt)", n)
	}
	if n := len(podContainers(t, rt, "u1")); n != 1 {
		t.Errorf("u1 has %d containers, want the new attempt only", n)
	}
}
