// Package podfields proves the pod fields of issue 15 on real containerd and CNI,
// with a real in-process server (raft, HTTP API, reconciler) and agent: an init
// container that runs to completion before the app, downward-API env and volume seen
// inside the container, runAsUser/fsGroup seen from inside, a read-only root
// filesystem that refuses writes, a startup probe that gates readiness, and a preStop
// hook whose effect the test reads. The image is manifests-example/images/web (a
// static binary, no shell): its /whoami, /write, /file and /env endpoints look inside
// the pod, and `web write` / `web exists` serve as exec hook and probe.
//
// Host names used only here: bridge kls-pf0, pod CIDR 10.252.0.0/16, a private
// containerd and registry.
package podfields

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/imagebuild"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/containerd"
	"github.com/keelson/keelson/reconciler"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
)

const (
	bridge      = "kls-pf0"
	clusterCIDR = "10.252.0.0/16"
)

type cluster struct {
	cli      *client.Client
	git      *harness.GitStub
	img      string
	dataDir  string
	hostPath string // the directory pods may mount as hostPath
}

func start(t *testing.T) *cluster {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "go", "ip", "iptables")
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		testenv.RequireFile(t, filepath.Join("/usr/lib/cni", p))
	}
	sock := testenv.StartContainerd(t)
	reg := testenv.StartRegistry(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	img := reg + "/keelson/web:v1"
	if err := imagebuild.BuildAndPush(ctx, "../../manifests-example/images/web", img); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(harness.TestLog{T: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rcfg := reconciler.DefaultConfig()
	rcfg.ClusterCIDR = clusterCIDR
	srv := harness.StartInProc(t, ctx, log, rcfg)

	dataDir := t.TempDir()
	hostPath := t.TempDir()
	if err := os.Chmod(hostPath, 0o777); err != nil { // the pod runs as uid 1000
		t.Fatal(err)
	}
	rt, err := containerd.New(ctx, containerd.Config{
		Address: sock, Namespace: "kls-podfields", StateDir: filepath.Join(dataDir, "runtime"), BridgeName: bridge,
		InsecureRegistries: []string{reg},
	})
	if err != nil {
		t.Fatal(err)
	}
	cli := srv.NodeClient(t, ctx, "n1", dataDir)
	a, err := node.NewAgent(node.Config{
		Name: "n1", Address: "127.0.0.1", DataDir: dataDir,
		Capacity: api.Resources{MilliCPU: 2000, MemoryBytes: 4 << 30},
		Runtime:  rt, ControlPlane: cli, Logger: log, AllowedHostPaths: []string{hostPath},
		BackoffInitial: 500 * time.Millisecond, BackoffMax: 2 * time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan struct{})
	actx, stopAgent := context.WithCancel(ctx)
	go func() { defer close(agentDone); _ = a.Run(actx) }()
	t.Cleanup(func() {
		_ = os.RemoveAll(filepath.Join(dataDir, "pods"))
		_ = rt.Close()
		if out, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil {
			t.Errorf("delete bridge: %v: %s", err, out)
		}
	})
	t.Cleanup(func() {
		stopAgent()
		<-agentDone
		harness.RemovePods(t, rt)
	})
	// The test reads pods as a reader does: the read token over the cluster CA.
	return &cluster{cli: srv.ReadClient(t), git: srv.Git, img: img, dataDir: dataDir, hostPath: hostPath}
}

func (c *cluster) pod(name string) (api.PodRecord, bool) {
	pods, _, err := c.cli.Pods(context.Background(), client.QueryOptions{})
	if err != nil {
		return api.PodRecord{}, false
	}
	for _, p := range pods {
		if p.Name == name {
			return p, true
		}
	}
	return api.PodRecord{}, false
}

// waitPod polls the read API until the pod satisfies cond.
func (c *cluster) waitPod(t *testing.T, name, what string, cond func(api.PodRecord) bool) api.PodRecord {
	t.Helper()
	var last api.PodRecord
	testenv.PollDetail(t, 90*time.Second, 100*time.Millisecond, name+": "+what, func() (bool, string) {
		p, ok := c.pod(name)
		last = p
		return ok && cond(p), fmt.Sprintf("last status %+v", p.Status)
	})
	return last
}

// get fetches path from the pod's web server; it returns the status and body.
func get(t *testing.T, podIP, path string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + podIP + ":8080" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: pf
  labels: {app: pf, tier: backend}
  annotations: {note: hello}
spec:
  terminationGracePeriodSeconds: 10
  securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000}
  initContainers:
  - name: init
    image: IMAGE
    args: [write, /work/index.html, initialized-by-init]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: IMAGE
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
    - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: GREETING, value: "pod $(POD_NAME) on $(NODE)"}
    resources: {limits: {memory: 128Mi}}
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: info, mountPath: /etc/podinfo}
    - {name: out, mountPath: /out}
    startupProbe:
      exec: {command: [/web, exists, /work/go, /work/probed]}
      periodSeconds: 1
      failureThreshold: 600
    lifecycle:
      preStop:
        exec: {command: [/web, write, /out/prestop, preStop ran]}
  volumes:
  - {name: work, emptyDir: {}}
  - {name: out, hostPath: {path: HOSTPATH}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
`

func TestPodFieldsOnContainerd(t *testing.T) {
	c := start(t)
	yaml := strings.NewReplacer("IMAGE", c.img, "HOSTPATH", c.hostPath).Replace(podYAML)
	c.git.Push(t, yaml)

	// The app container runs but its startup probe fails until /work/go exists: it
	// must not be Ready, even though it has no readiness probe.
	p := c.waitPod(t, "pf", "app running and probed by its startup probe", func(p api.PodRecord) bool {
		if len(p.Status.Containers) != 1 || p.Status.Containers[0].State != api.ContainerRunning {
			return false
		}
		_, err := os.Stat(filepath.Join(c.dataDir, "pods", p.UID, "volumes", "work", "probed"))
		return err == nil
	})
	if p.Status.Ready || p.Status.Containers[0].Ready {
		t.Fatalf("ready before the startup probe succeeded: %+v", p.Status)
	}
	if is := p.Status.InitContainers; len(is) != 1 || is[0].State != api.ContainerTerminated || is[0].Reason != "Completed" {
		t.Errorf("init container status %+v, want Terminated/Completed", is)
	}
	ip := p.Status.PodIP

	// The init container ran to completion before the app: its file is there.
	if code, body := get(t, ip, "/file?path=/work/index.html"); code != 200 || body != "initialized-by-init" {
		t.Errorf("/work/index.html = %d %q, want the init container's file", code, body)
	}
	// Downward API env, with $(VAR) expansion of downward values.
	_, env := get(t, ip, "/env")
	for _, want := range []string{"POD_NAME=pf", "POD_IP=" + ip, "NODE=n1", "TIER=backend", "MEM_MI=128", "GREETING=pod pf on n1"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	// Downward API volume.
	if _, labels := get(t, ip, "/file?path=/etc/podinfo/labels"); labels != "app=\"pf\"\ntier=\"backend\"" {
		t.Errorf("/etc/podinfo/labels = %q", labels)
	}
	if _, ann := get(t, ip, "/file?path=/etc/podinfo/annotations"); ann != `note="hello"` {
		t.Errorf("/etc/podinfo/annotations = %q", ann)
	}
	// runAsUser, runAsGroup and fsGroup as the process sees them.
	// capabilities.drop: [ALL] empties even the bounding set (a non-root user has no
	// effective capabilities anyway).
	if _, who := get(t, ip, "/whoami"); !strings.HasPrefix(who, "uid=1000 gid=3000 groups=") || !strings.Contains(who, "2000") ||
		!strings.Contains(who, "capbnd=0000000000000000") {
		t.Errorf("/whoami = %q, want uid 1000, gid 3000, the fsGroup 2000 and no capabilities", who)
	}
	// A read-only root filesystem refuses writes; the emptyDir volume takes them.
	if code, body := get(t, ip, "/write?path=/tmp/x"); code != 500 || !strings.Contains(body, "read-only file system") {
		t.Errorf("write to the root filesystem = %d %q, want a read-only error", code, body)
	}
	if code, body := get(t, ip, "/write?path=/work/x"); code != 200 {
		t.Errorf("write to the emptyDir = %d %q", code, body)
	}

	// Let the startup probe succeed: the pod becomes Ready.
	if err := os.WriteFile(filepath.Join(c.dataDir, "pods", p.UID, "volumes", "work", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.waitPod(t, "pf", "Ready once the startup probe succeeds", func(p api.PodRecord) bool { return p.Status.Ready })

	// Remove the pod from Git: the preStop hook runs (an exec, so inside the still
	// running container, before SIGTERM) and leaves its file on the hostPath.
	c.git.Push(t, "")
	testenv.PollDetail(t, 60*time.Second, 100*time.Millisecond, "the preStop hook's file", func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(c.hostPath, "prestop"))
		return err == nil && string(b) == "preStop ran", fmt.Sprintf("%q %v", b, err)
	})
	testenv.Poll(t, 60*time.Second, 100*time.Millisecond, "the pod gone", func() bool {
		_, ok := c.pod("pf")
		return !ok
	})
}

// runAsNonRoot with an image that runs as root is refused with
// CreateContainerConfigError, as the kubelet does.
func TestRunAsNonRootRefusesRootImage(t *testing.T) {
	c := start(t)
	c.git.Push(t, strings.ReplaceAll(`apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  securityContext: {runAsNonRoot: true}
  containers: [{name: app, image: IMAGE}]
`, "IMAGE", c.img))
	p := c.waitPod(t, "nonroot", "CreateContainerConfigError", func(p api.PodRecord) bool {
		return len(p.Status.Containers) == 1 && p.Status.Containers[0].Reason == "CreateContainerConfigError"
	})
	if !strings.Contains(p.Status.Containers[0].Message, "runAsNonRoot") {
		t.Errorf("message %q", p.Status.Containers[0].Message)
	}
}
