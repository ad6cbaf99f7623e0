package node_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/nodetest"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPodStartsRunningAndReady(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cfg := testConfig(t, rt, cp)
	runAgent(t, cfg)
	cp.setPod(pod("u1", ctr("app"), ctr("sidecar")))

	r := waitStatus(t, cp, "u1", "Running and Ready", running)
	if r.Status.PodIP != "10.244.1.2" {
		t.Errorf("pod IP = %q, want the first host address of the node's CIDR", r.Status.PodIP)
	}
	if len(r.Status.Containers) != 2 {
		t.Fatalf("containers = %+v", r.Status.Containers)
	}
	for _, c := range r.Status.Containers {
		if c.State != api.ContainerRunning || !c.Ready || c.RestartCount != 0 || c.StartedAt.IsZero() {
			t.Errorf("container %+v, want running, ready, started, no restarts", c)
		}
	}
	ccfg, ok := rt.ContainerConfigOf(nodetest.FakeContainerID("u1", "app", 0))
	if !ok {
		t.Fatal("container app attempt 0 not created")
	}
	if want := filepath.Join(cfg.DataDir, "pods", "u1", "logs", "app-0.log"); ccfg.LogPath != want {
		t.Errorf("log path = %q, want %q", ccfg.LogPath, want)
	}
	if ccfg.NetNSPath == "" {
		t.Error("container does not join the sandbox's network namespace")
	}
}

func TestCrashLoopBackOffDoublesAndCaps(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.ScriptContainer("app", nodetest.ContainerScript{Exit: true, ExitCode: 1})
	runAgent(t, testConfig(t, rt, cp)) // backoff 100ms doubling to 400ms
	cp.setPod(pod("u1", ctr("app")))

	waitStatus(t, cp, "u1", "4 restarts", func(r api.PodStatusReport) bool {
		return len(r.Status.Containers) == 1 && r.Status.Containers[0].RestartCount >= 4
	})
	var backoffs []string
	for _, r := range cp.history("u1") {
		c := r.Status.Containers[0]
		if c.Reason != "CrashLoopBackOff" {
			continue
		}
		if r.Status.Phase != corev1.PodRunning || r.Status.Ready || c.State != api.ContainerWaiting || c.ExitCode != 1 {
			t.Errorf("during backoff: phase %s ready %v container %+v", r.Status.Phase, r.Status.Ready, c)
		}
		msg := strings.Fields(c.Message)[1] // "back-off 200ms restarting failed container app"
		if len(backoffs) == 0 || backoffs[len(backoffs)-1] != msg {
			backoffs = append(backoffs, msg)
		}
	}
	want := []string{"100ms", "200ms", "400ms"}
	if len(backoffs) < 3 || strings.Join(backoffs[:3], ",") != strings.Join(want, ",") {
		t.Fatalf("backoff sequence = %v, want it to start %v", backoffs, want)
	}
	for _, b := range backoffs[3:] {
		if b != "400ms" {
			t.Errorf("backoff %s past the 400ms cap (sequence %v)", b, backoffs)
		}
	}
	// Exited attempts are removed: never more than one container of the pod.
	if n := len(podContainers(t, rt, "u1")); n != 1 {
		t.Errorf("%d containers of the pod in the runtime, want 1", n)
	}
}

func TestBackoffResetsAfterLongRun(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.ScriptContainer("app", nodetest.ContainerScript{Exit: true, ExitAfter: 60 * time.Millisecond, ExitCode: 2})
	cfg := testConfig(t, rt, cp)
	cfg.BackoffReset = 50 * time.Millisecond // every attempt runs "long enough"
	runAgent(t, cfg)
	cp.setPod(pod("u1", ctr("app")))

	waitStatus(t, cp, "u1", "3 restarts", func(r api.PodStatusReport) bool {
		return r.Status.Containers[0].RestartCount >= 3
	})
	for _, r := range cp.history("u1") {
		if c := r.Status.Containers[0]; c.Reason == "CrashLoopBackOff" && !strings.Contains(c.Message, "back-off 100ms ") {
			t.Errorf("backoff did not reset after a long run: %q", c.Message)
		}
	}
}

func TestRestartPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy       corev1.RestartPolicy
		exitCode     int32
		phase        corev1.PodPhase
		reason       string
		wantRestarts bool
	}{
		{corev1.RestartPolicyNever, 3, corev1.PodFailed, "Error", false},
		{corev1.RestartPolicyNever, 0, corev1.PodSucceeded, "Completed", false},
		{corev1.RestartPolicyOnFailure, 0, corev1.PodSucceeded, "Completed", false},
		{corev1.RestartPolicyOnFailure, 1, corev1.PodRunning, "", true},
	} {
		t.Run(string(tc.policy)+"/"+tc.reason, func(t *testing.T) {
			rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
			rt.ScriptContainer("job", nodetest.ContainerScript{Exit: true, ExitAfter: 20 * time.Millisecond, ExitCode: tc.exitCode})
			runAgent(t, testConfig(t, rt, cp))
			p := pod("u1", ctr("job"))
			p.Spec.RestartPolicy = tc.policy
			cp.setPod(p)
			if tc.wantRestarts {
				waitStatus(t, cp, "u1", "a restart", func(r api.PodStatusReport) bool {
					return r.Status.Containers[0].RestartCount >= 1
				})
				return
			}
			r := waitStatus(t, cp, "u1", "phase "+string(tc.phase), func(r api.PodStatusReport) bool {
				return r.Status.Phase == tc.phase
			})
			c := r.Status.Containers[0]
			if c.State != api.ContainerTerminated || c.Reason != tc.reason || c.ExitCode != tc.exitCode || c.RestartCount != 0 {
				t.Errorf("container %+v, want terminated %s with exit code %d and no restart", c, tc.reason, tc.exitCode)
			}
			if r.Status.Ready {
				t.Error("a finished pod is reported ready")
			}
			if n := rt.Stats().ContainersCreated; n != 1 {
				t.Errorf("%d containers created, want 1", n)
			}
		})
	}
}

func execProbe(failureThreshold int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}},
		PeriodSeconds: 1, FailureThreshold: failureThreshold,
	}
}

func TestReadinessGatesReady(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.SetExecResult("app", 1)
	runAgent(t, testConfig(t, rt, cp))
	c := ctr("app")
	c.ReadinessProbe = execProbe(1)
	cp.setPod(pod("u1", c))

	r := waitStatus(t, cp, "u1", "Running", func(r api.PodStatusReport) bool { return r.Status.Phase == corev1.PodRunning })
	if r.Status.Ready || r.Status.Containers[0].Ready {
		t.Fatalf("ready before the readiness probe succeeded: %+v", r.Status)
	}
	rt.SetExecResult("app", 0)
	waitStatus(t, cp, "u1", "Ready after the probe succeeds", running)
	rt.SetExecResult("app", 1)
	r = waitStatus(t, cp, "u1", "not Ready after the probe fails", func(r api.PodStatusReport) bool { return !r.Status.Ready })
	if r.Status.Phase != corev1.PodRunning || r.Status.Containers[0].RestartCount != 0 {
		t.Errorf("a readiness failure must not restart: %+v", r.Status)
	}
}

func TestLivenessFailureRestarts(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	runAgent(t, testConfig(t, rt, cp))
	c := ctr("app")
	c.LivenessProbe = execProbe(2)
	cp.setPod(pod("u1", c))
	waitStatus(t, cp, "u1", "Running", running)

	rt.SetExecResult("app", 1)
	r := waitStatus(t, cp, "u1", "a restart after liveness failures", func(r api.PodStatusReport) bool {
		return r.Status.Containers[0].RestartCount >= 1
	})
	rt.SetExecResult("app", 0)
	if rt.Stats().ContainersStopped < 1 {
		t.Error("the failing container was not stopped")
	}
	found := false
	for _, h := range cp.history("u1") {
		if c := h.Status.Containers[0]; strings.Contains(c.Message, "liveness probe failed") && c.ExitCode == 143 {
			found = true
		}
	}
	if !found {
		t.Errorf("no report says the liveness probe failed with exit code 143; last %+v", r.Status.Containers[0])
	}
	waitStatus(t, cp, "u1", "Running again", running)
}

func TestGracefulStop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script nodetest.ContainerScript
		exit   int32
	}{
		{"TERM handled", nodetest.ContainerScript{}, 143},
		{"TERM ignored then KILL", nodetest.ContainerScript{IgnoreTERM: true}, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
			rt.ScriptContainer("app", tc.script)
			cfg := testConfig(t, rt, cp)
			runAgent(t, cfg)
			p := pod("u1", ctr("app"))
			p.Spec.TerminationGracePeriodSeconds = int64p(5) // 50ms at SpecSecond=10ms
			p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			cp.setPod(p)
			waitStatus(t, cp, "u1", "Running", running)

			cp.setDesire("u1", api.DesireStop)
			r := waitStatus(t, cp, "u1", "Gone", func(r api.PodStatusReport) bool { return r.Gone })
			c := r.Status.Containers[0]
			if c.State != api.ContainerTerminated || c.ExitCode != tc.exit {
				t.Errorf("final container %+v, want terminated with exit code %d", c, tc.exit)
			}
			if n := len(podContainers(t, rt, "u1")); n != 0 {
				t.Errorf("%d containers left", n)
			}
			if sbs, _ := rt.ListSandboxes(context.Background()); len(sbs) != 0 {
				t.Errorf("sandboxes left: %+v", sbs)
			}
			if _, err := filepathStat(filepath.Join(cfg.DataDir, "pods", "u1")); err == nil {
				t.Error("pod directory (volumes, logs) not removed")
			}
		})
	}
}

func TestImagePullFailureThenRecovery(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.FailPull("registry.local/app:v1", errFakePull)
	runAgent(t, testConfig(t, rt, cp))
	cp.setPod(pod("u1", ctr("app")))
	r := waitStatus(t, cp, "u1", "ImagePullBackOff", func(r api.PodStatusReport) bool {
		return r.Status.Containers[0].Reason == "ImagePullBackOff"
	})
	if r.Status.Phase != corev1.PodPending || !strings.Contains(r.Status.Containers[0].Message, "registry says no") {
		t.Errorf("while the image cannot be pulled: %+v, want Pending with the pull error", r.Status)
	}
	if h := cp.history("u1"); h[0].Status.Containers[0].Reason != "ErrImagePull" && h[0].Status.Containers[0].Reason != "ContainerCreating" {
		t.Errorf("first report %+v, want ErrImagePull before ImagePullBackOff", h[0].Status.Containers[0])
	}
	rt.FailPull("registry.local/app:v1", nil)
	waitStatus(t, cp, "u1", "Running once the pull works", running)
}

func TestWaitsForPodCIDR(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("")
	runAgent(t, testConfig(t, rt, cp))
	cp.setPod(pod("u1", ctr("app")))
	waitStatus(t, cp, "u1", "WaitingForPodCIDR", func(r api.PodStatusReport) bool {
		return r.Status.Phase == corev1.PodPending && r.Status.Reason == "WaitingForPodCIDR"
	})
	if rt.Stats().SandboxesCreated != 0 {
		t.Fatal("sandbox created without a pod CIDR")
	}
	cp.setPodCIDR("10.244.7.0/24")
	r := waitStatus(t, cp, "u1", "Running", running)
	if r.Status.PodIP != "10.244.7.2" {
		t.Errorf("pod IP %s", r.Status.PodIP)
	}
}

func TestHostPathPolicy(t *testing.T) {
	allowed := t.TempDir()
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cfg := testConfig(t, rt, cp)
	cfg.AllowedHostPaths = []string{allowed}
	runAgent(t, cfg)

	refused := pod("bad", ctr("app"))
	refused.Spec.Volumes = []corev1.Volume{{Name: "etc", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}}}
	refused.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "etc", MountPath: "/host-etc"}}
	cp.setPod(refused)
	r := waitStatus(t, cp, "bad", "Failed", func(r api.PodStatusReport) bool { return r.Status.Phase == corev1.PodFailed })
	if r.Status.Reason != "HostPathNotAllowed" || !strings.Contains(r.Status.Message, `"/etc"`) || !strings.Contains(r.Status.Message, allowed) {
		t.Errorf("reason %q message %q", r.Status.Reason, r.Status.Message)
	}
	if n := len(podContainers(t, rt, "bad")); n != 0 || rt.Stats().SandboxesCreated != 0 {
		t.Errorf("a refused pod got %d containers / a sandbox", n)
	}

	ok := pod("good", ctr("app"))
	dir := filepath.Join(allowed, "data")
	ok.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}
	ok.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}}
	cp.setPod(ok)
	waitStatus(t, cp, "good", "Running", running)
	ccfg, _ := rt.ContainerConfigOf(nodetest.FakeContainerID("good", "app", 0))
	if len(ccfg.Mounts) == 0 || ccfg.Mounts[0] != (node.Mount{HostPath: dir, ContainerPath: "/data", ReadOnly: true}) {
		t.Errorf("mounts %+v", ccfg.Mounts)
	}
}

func TestServiceEnvAndLimits(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cp.setServices([]api.ServiceRecord{
		{Namespace: "default", Name: "my-db", Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: []corev1.ServicePort{
			{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}, {Name: "metrics-http", Port: 9187}}}},
		{Namespace: "other", Name: "elsewhere", Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.11", Ports: []corev1.ServicePort{{Port: 80}}}},
		{Namespace: "default", Name: "headless", Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 80}}}},
	})
	runAgent(t, testConfig(t, rt, cp))
	c := ctr("app")
	c.Env = []corev1.EnvVar{{Name: "DB_URL", Value: "postgres://$(MY_DB_SERVICE_HOST):$(MY_DB_SERVICE_PORT)/x"}, {Name: "COST", Value: "$$5 $(UNDEFINED)"}}
	c.Args = []string{"--db=$(DB_URL)"}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	cp.setPod(pod("u1", c))
	waitStatus(t, cp, "u1", "Running", running)

	ccfg, _ := rt.ContainerConfigOf(nodetest.FakeContainerID("u1", "app", 0))
	env := map[string]string{}
	for _, kv := range ccfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"MY_DB_SERVICE_HOST": "10.96.0.10", "MY_DB_SERVICE_PORT": "5432",
		"MY_DB_SERVICE_PORT_PG": "5432", "MY_DB_SERVICE_PORT_METRICS_HTTP": "9187",
		"MY_DB_PORT": "tcp://10.96.0.10:5432", "MY_DB_PORT_5432_TCP_ADDR": "10.96.0.10",
		"DB_URL": "postgres://10.96.0.10:5432/x", "COST": "$5 $(UNDEFINED)",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "ELSEWHERE_") || strings.HasPrefix(k, "HEADLESS_") {
			t.Errorf("unexpected %s (other namespace or headless service)", k)
		}
	}
	if len(ccfg.Args) != 1 || ccfg.Args[0] != "--db=postgres://10.96.0.10:5432/x" {
		t.Errorf("args %q", ccfg.Args)
	}
	if ccfg.MilliCPULimit != 500 || ccfg.MemoryLimit != 64<<20 {
		t.Errorf("limits cpu %d mem %d", ccfg.MilliCPULimit, ccfg.MemoryLimit)
	}
}
