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
