package node_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/nodetest"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// indexOf is the position of an event in the fake runtime's log, -1 if absent.
func indexOf(events []string, e string) int { return slices.Index(events, e) }

func TestInitContainersRunInOrderBeforeApp(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.RecordEvents()
	rt.ScriptContainer("init1", nodetest.ContainerScript{Exit: true, ExitAfter: 30 * time.Millisecond})
	rt.ScriptContainer("init2", nodetest.ContainerScript{Exit: true, ExitAfter: 30 * time.Millisecond})
	runAgent(t, testConfig(t, rt, cp))
	p := pod("u1", ctr("app"))
	p.Spec.InitContainers = []corev1.Container{ctr("init1"), ctr("init2")}
	cp.setPod(p)

	pending := waitStatus(t, cp, "u1", "Pending while init1 runs", func(r api.PodStatusReport) bool {
		return r.Status.Phase == corev1.PodPending && r.Status.Reason == "Init:0/2"
	})
	if c := pending.Status.Containers; len(c) != 1 || c[0].Reason != "PodInitializing" {
		t.Errorf("app container while init runs: %+v, want Waiting/PodInitializing", c)
	}
	r := waitStatus(t, cp, "u1", "Running", running)
	ev := rt.Events()
	i1, i2, app := indexOf(ev, "start init1"), indexOf(ev, "start init2"), indexOf(ev, "start app")
	if i1 < 0 || i2 < i1 || app < i2 {
		t.Fatalf("start order %v, want init1, init2, app", ev)
	}
	if len(r.Status.InitContainers) != 2 {
		t.Fatalf("init container statuses %+v", r.Status.InitContainers)
	}
	for _, s := range r.Status.InitContainers {
		if s.State != api.ContainerTerminated || s.Reason != "Completed" || s.ExitCode != 0 {
			t.Errorf("init container %+v, want Terminated/Completed", s)
		}
	}
	if len(r.Status.Containers) != 1 || r.Status.Containers[0].Name != "app" {
		t.Errorf("app statuses %+v", r.Status.Containers)
	}
}

func TestFailedInitContainerRetriesOrFailsThePod(t *testing.T) {
	for _, policy := range []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyNever} {
		t.Run(string(policy), func(t *testing.T) {
			rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
			rt.RecordEvents()
			rt.ScriptContainer("setup", nodetest.ContainerScript{Exit: true, ExitCode: 3})
			runAgent(t, testConfig(t, rt, cp))
			p := pod("u1", ctr("app"))
			p.Spec.RestartPolicy = policy
			p.Spec.InitContainers = []corev1.Container{ctr("setup")}
			cp.setPod(p)
			if policy == corev1.RestartPolicyNever {
				r := waitStatus(t, cp, "u1", "Failed", func(r api.PodStatusReport) bool { return r.Status.Phase == corev1.PodFailed })
				if r.Status.Reason != "InitContainerFailed" || !strings.Contains(r.Status.Message, `"setup" exited with code 3`) {
					t.Errorf("status %+v", r.Status)
				}
			} else {
				waitStatus(t, cp, "u1", "init retried with backoff", func(r api.PodStatusReport) bool {
					return r.Status.Phase == corev1.PodPending && r.Status.Reason == "Init:CrashLoopBackOff" &&
						len(r.Status.InitContainers) == 1 && r.Status.InitContainers[0].RestartCount >= 1
				})
			}
			if indexOf(rt.Events(), "start app") >= 0 {
				t.Error("the app container started although its init container failed")
			}
		})
	}
}

func TestDownwardAPIEnvAndVolume(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cfg := testConfig(t, rt, cp)
	runAgent(t, cfg)
	c := ctr("app")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}
	fr := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	c.Env = []corev1.EnvVar{
		{Name: "POD", ValueFrom: fr("metadata.name")},
		{Name: "NS", ValueFrom: fr("metadata.namespace")},
		{Name: "UID", ValueFrom: fr("metadata.uid")},
		{Name: "TIER", ValueFrom: fr("metadata.labels['tier']")},
		{Name: "NODE", ValueFrom: fr("spec.nodeName")},
		{Name: "HOST_IP", ValueFrom: fr("status.hostIP")},
		{Name: "POD_IP", ValueFrom: fr("status.podIP")},
		{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
		{Name: "CPU_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
		{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
		{Name: "URL", Value: "http://$(POD_IP):80/$(TIER)"},
	}
	c.Args = []string{"--node=$(NODE)"}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "info", MountPath: "/etc/podinfo"}}
	p := pod("u1", c)
	p.Labels = map[string]string{"tier": "web", "app": "shop"}
	fsGroup := int64(os.Getgid())
	p.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: &fsGroup}
	mode := int32(0o400)
	p.Spec.Volumes = []corev1.Volume{{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "sub/name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, Mode: &mode},
			{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Ki")}},
		},
	}}}}
	cp.setPod(p)
	r := waitStatus(t, cp, "u1", "Running", running)

	ccfg, ok := rt.ContainerConfigOf(nodetest.FakeContainerID("u1", "app", 0))
	if !ok {
		t.Fatal("no container")
	}
	env := map[string]string{}
	for _, kv := range ccfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"POD": "pod-u1", "NS": "default", "UID": "u1", "TIER": "web", "NODE": "n1", "HOST_IP": "192.0.2.1",
		"POD_IP": r.Status.PodIP, "MEM_MI": "64", "CPU_M": "250", "CPU_LIMIT": "4", // no limit: the node's 4 CPUs
		"URL": "http://" + r.Status.PodIP + ":80/web",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if len(ccfg.Args) != 1 || ccfg.Args[0] != "--node=n1" {
		t.Errorf("args %q: $(NODE) not expanded from a downward API variable", ccfg.Args)
	}
	var host string
	for _, m := range ccfg.Mounts {
		if m.ContainerPath == "/etc/podinfo" {
			host = m.HostPath
			if !m.ReadOnly {
				t.Error("a downward API volume must be mounted read-only")
			}
		}
	}
	files := map[string]string{"labels": "app=\"shop\"\ntier=\"web\"", "sub/name": "pod-u1", "mem": "65536"}
	for f, content := range files {
		b, err := os.ReadFile(filepath.Join(host, f))
		if err != nil || string(b) != content {
			t.Errorf("%s = %q, %v; want %q", f, b, err, content)
		}
	}
	st, err := os.Stat(filepath.Join(host, "sub/name"))
	if err != nil || st.Mode().Perm() != 0o400 {
		t.Errorf("sub/name mode %v, %v; want 0400", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(host, "labels")); err != nil || st.Mode().Perm() != 0o644 || st.Sys().(*syscall.Stat_t).Gid != uint32(fsGroup) {
		t.Errorf("labels: mode %v gid %v, %v; want 0644 and the fsGroup", st.Mode(), st.Sys().(*syscall.Stat_t).Gid, err)
	}
}

func TestPreStopRunsBeforeSIGTERM(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.RecordEvents()
	runAgent(t, testConfig(t, rt, cp))
	c := ctr("app")
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/quit", "now"}}}}
	cp.setPod(pod("u1", c))
	waitStatus(t, cp, "u1", "Running", running)
	cp.removePod("u1")
	waitStatus(t, cp, "u1", "Gone", func(r api.PodStatusReport) bool { return r.Gone })
	ev := rt.Events()
	hook, stop := indexOf(ev, "exec app /quit now"), indexOf(ev, "stop app")
	if hook < 0 || stop < hook {
		t.Fatalf("events %v: want the preStop exec before the stop", ev)
	}
}

func TestPostStartFailureKillsTheContainer(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.SetExecResult("app", 1)
	runAgent(t, testConfig(t, rt, cp))
	c := ctr("app")
	c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/setup"}}}}
	cp.setPod(pod("u1", c))
	r := waitStatus(t, cp, "u1", "restarted after the failed hook", func(r api.PodStatusReport) bool {
		return len(r.Status.Containers) == 1 && r.Status.Containers[0].RestartCount >= 1
	})
	found := false
	for _, h := range cp.history("u1") {
		if len(h.Status.Containers) == 1 && strings.Contains(h.Status.Containers[0].Message, "FailedPostStartHook") {
			found = true
		}
	}
	if !found {
		t.Errorf("no report names the failed postStart hook; last %+v", r.Status.Containers)
	}
	rt.SetExecResult("app", 0)
	waitStatus(t, cp, "u1", "Running once the hook succeeds", running)
}

// scriptedProber answers probes by their exec command's first word.
type scriptedProber struct {
	mu    sync.Mutex
	fail  map[string]bool
	calls []string
}

func (p *scriptedProber) Probe(ctx context.Context, t node.ProbeTarget, pr *corev1.Probe) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := pr.Exec.Command[0]
	p.calls = append(p.calls, name)
	if p.fail[name] {
		return errors.New(name + " failed")
	}
	return nil
}

func (p *scriptedProber) set(name string, fail bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail[name] = fail
}

func (p *scriptedProber) called(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.calls, name)
}

func TestStartupProbeGatesReadinessAndLiveness(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	pr := &scriptedProber{fail: map[string]bool{"startup": true}}
	cfg := testConfig(t, rt, cp)
	cfg.Prober = pr
	runAgent(t, cfg)
	c := ctr("app")
	probe := func(cmd string, failures int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{cmd}}},
			PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: failures}
	}
	c.StartupProbe = probe("startup", 1000)
	c.LivenessProbe = probe("live", 3)
	c.ReadinessProbe = probe("ready", 3)
	cp.setPod(pod("u1", c))
	waitFor(t, "a few startup probes", func() bool {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		return len(pr.calls) >= 3
	})
	if r, _ := cp.report("u1"); r.Status.Ready {
		t.Fatal("ready before the startup probe succeeded")
	}
	if pr.called("live") || pr.called("ready") {
		t.Fatal("liveness or readiness probed before the startup probe succeeded")
	}
	pr.set("startup", false)
	waitStatus(t, cp, "u1", "Ready once started", running)
	if !pr.called("live") {
		t.Error("liveness never probed after startup")
	}

	// A startup probe that keeps failing restarts the container.
	c.StartupProbe = probe("never", 2)
	pr.set("never", true)
	cp.setPod(pod("u2", c))
	r := waitStatus(t, cp, "u2", "restarted by the startup probe", func(r api.PodStatusReport) bool {
		return len(r.Status.Containers) == 1 && r.Status.Containers[0].RestartCount >= 1
	})
	found := false
	for _, h := range cp.history("u2") {
		if len(h.Status.Containers) == 1 && strings.Contains(h.Status.Containers[0].Message, "startup probe failed") {
			found = true
		}
	}
	if !found {
		t.Errorf("no report says the startup probe failed; last %+v", r.Status.Containers)
	}
}

func TestSecurityContextReachesTheRuntime(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	runAgent(t, testConfig(t, rt, cp))
	t.Run("merged", func(t *testing.T) {
		c := ctr("app")
		no := false
		yes := true
		c.SecurityContext = &corev1.SecurityContext{RunAsUser: int64p(1001), ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		p := pod("u1", c)
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: int64p(1000), RunAsGroup: int64p(2000), FSGroup: int64p(3000), SupplementalGroups: []int64{4000}}
		cp.setPod(p)
		waitStatus(t, cp, "u1", "Running", running)
		ccfg, _ := rt.ContainerConfigOf(nodetest.FakeContainerID("u1", "app", 0))
		sc := ccfg.Security
		if *sc.RunAsUser != 1001 || *sc.RunAsGroup != 2000 || !slices.Equal(sc.SupplementalGroups, []int64{3000, 4000}) ||
			!sc.ReadOnlyRootFS || !sc.NoNewPrivileges || !slices.Equal(sc.CapDrop, []string{"ALL"}) || !sc.SeccompRuntimeDefault || sc.Privileged {
			t.Errorf("security %+v", sc)
		}
	})
	t.Run("runAsNonRoot with a root image", func(t *testing.T) {
		c := ctr("app")
		yes := true
		c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: &yes}
		cp.setPod(pod("u2", c))
		r := waitStatus(t, cp, "u2", "CreateContainerConfigError", func(r api.PodStatusReport) bool {
			return len(r.Status.Containers) == 1 && r.Status.Containers[0].Reason == "CreateContainerConfigError"
		})
		if r.Status.Phase != corev1.PodPending || !strings.Contains(r.Status.Containers[0].Message, "runAsNonRoot") {
			t.Errorf("status %+v", r.Status)
		}
	})
}

func TestCapabilityAddNeedsTheAgentsPermission(t *testing.T) {
	for _, allowed := range [][]string{nil, {"NET_ADMIN"}} {
		t.Run(strings.Join(allowed, ","), func(t *testing.T) {
			rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
			cfg := testConfig(t, rt, cp)
			cfg.AllowCapabilities = allowed
			runAgent(t, cfg)
			c := ctr("app")
			c.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
			cp.setPod(pod("u1", c))
			if allowed == nil {
				r := waitStatus(t, cp, "u1", "refused", func(r api.PodStatusReport) bool { return r.Status.Phase == corev1.PodFailed })
				if r.Status.Reason != "CapabilityNotAllowed" || !strings.Contains(r.Status.Message, "CAP_NET_ADMIN") {
					t.Errorf("status %+v", r.Status)
				}
				return
			}
			waitStatus(t, cp, "u1", "Running", running)
			ccfg, _ := rt.ContainerConfigOf(nodetest.FakeContainerID("u1", "app", 0))
			if !slices.Equal(ccfg.Security.CapAdd, []string{"CAP_NET_ADMIN"}) {
				t.Errorf("cap add %v", ccfg.Security.CapAdd)
			}
		})
	}
}

// A restarted agent adopts a pod whose init containers have completed: they are not
// run again and the app container is not duplicated.
func TestInitContainersNotRerunAfterAgentRestart(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.ScriptContainer("init", nodetest.ContainerScript{Exit: true})
	cfg := testConfig(t, rt, cp)
	_, stop := runAgent(t, cfg)
	p := pod("u1", ctr("app"))
	p.Spec.InitContainers = []corev1.Container{ctr("init")}
	cp.setPod(p)
	waitStatus(t, cp, "u1", "Running", running)
	stop()
	cp.forget()
	before := rt.Stats()

	runAgent(t, cfg)
	r := waitStatus(t, cp, "u1", "Running after the restart", running)
	if st := rt.Stats(); st.ContainersCreated != before.ContainersCreated {
		t.Errorf("containers created after the restart: %d, want none", st.ContainersCreated-before.ContainersCreated)
	}
	if len(r.Status.InitContainers) != 1 || r.Status.InitContainers[0].Reason != "Completed" {
		t.Errorf("init status after adoption %+v", r.Status.InitContainers)
	}
}

// httpGet hooks reach the pod like httpGet probes, headers included.
func TestHTTPGetHooks(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.URL.Path+" "+r.Header.Get("X-Hook"))
	}))
	t.Cleanup(srv.Close)
	port, _ := strconv.Atoi(srv.URL[strings.LastIndexByte(srv.URL, ':')+1:])

	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.UseLoopbackIPs()
	runAgent(t, testConfig(t, rt, cp))
	hook := func(path string) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(int32(port)),
			HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Hook", Value: "yes"}}}}
	}
	c := ctr("app")
	c.Lifecycle = &corev1.Lifecycle{PostStart: hook("/started"), PreStop: hook("/stopping")}
	cp.setPod(pod("u1", c))
	waitStatus(t, cp, "u1", "Running", running)
	cp.removePod("u1")
	waitStatus(t, cp, "u1", "Gone", func(r api.PodStatusReport) bool { return r.Gone })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []string{"/started yes", "/stopping yes"}) {
		t.Errorf("hook requests %q, want postStart then preStop with the header", got)
	}
}

// enableServiceLinks: false leaves out the Docker-link style service variables.
func TestEnableServiceLinksFalse(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	runAgent(t, testConfig(t, rt, cp))
	svc := api.ServiceRecord{Namespace: "default", Name: "db"}
	svc.Spec.ClusterIP = "10.96.0.9"
	svc.Spec.Ports = []corev1.ServicePort{{Port: 5432}}
	cp.setServices([]api.ServiceRecord{svc})
	off := false
	p := pod("u1", ctr("app"))
	p.Spec.EnableServiceLinks = &off
	cp.setPod(p)
	cp.setPod(pod("u2", ctr("app")))
	waitStatus(t, cp, "u1", "Running", running)
	waitStatus(t, cp, "u2", "Running", running)
	has := func(uid string) bool {
		cfg, _ := rt.ContainerConfigOf(nodetest.FakeContainerID(uid, "app", 0))
		return slices.Contains(cfg.Env, "DB_SERVICE_HOST=10.96.0.9")
	}
	if has("u1") || !has("u2") {
		t.Errorf("service variables: with enableServiceLinks false %v, default %v; want false, true", has("u1"), has("u2"))
	}
}
