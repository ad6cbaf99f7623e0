package containerd

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/node"
)

// TestAdoptionRebuildsADeadSandbox is an agent restart after the pod's network
// namespace was removed while no agent ran (`ip netns del`, or a tool cleaning up
// mounts): the containers still run, in a namespace nothing can reach. The restarted
// agent (the real node.Agent on this runtime) must not adopt them as they are: it
// kills them, makes a new sandbox and runs the next attempt there, and the pod answers
// on its address again.
func TestAdoptionRebuildsADeadSandbox(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	image, err := e.rt.EnsureImage(ctx, e.imageRef, "IfNotPresent")
	if err != nil {
		t.Fatal(err)
	}
	uid := newUID(t)
	cp := &staticCP{node: api.Node{Name: "adopt", PodCIDR: e.cidr}, pod: api.PodRecord{
		UID: uid, Namespace: "default", Name: "drift", Node: "adopt", Desire: api.DesireRun,
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "server", Image: image, Args: []string{"serve", ":8080"}, ImagePullPolicy: corev1.PullIfNotPresent,
		}}},
	}}
	dataDir := t.TempDir()
	runAgent := func() func() {
		a, err := node.NewAgent(node.Config{
			Name: "adopt", Address: "192.0.2.1", DataDir: dataDir, Runtime: e.rt, ControlPlane: cp,
			Capacity:          api.Resources{MilliCPU: 4000, MemoryBytes: 8 << 30},
			HeartbeatInterval: 100 * time.Millisecond, StatusBatchInterval: 50 * time.Millisecond,
			WatchWait: time.Second, SyncInterval: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = a.Run(ctx) }()
		return func() { cancel(); <-done }
	}
	// answering waits for the pod's running attempt to serve on its reported IP.
	answering := func(what string, attempt int32) string {
		t.Helper()
		var ip string
		waitFor(t, time.Minute, what, func() (bool, string) {
			r, ok := cp.latest()
			if !ok || len(r.Status.Containers) != 1 || r.Status.PodIP == "" {
				return false, "no report yet"
			}
			c := r.Status.Containers[0]
			if c.State != api.ContainerRunning || c.RestartCount != attempt {
				return false, c.ContainerID + " " + string(c.State)
			}
			ip = r.Status.PodIP
			body, err := httpGet("http://" + ip + ":8080/")
			if err != nil {
				return false, err.Error()
			}
			return body == "hello from drift\n", body
		})
		return ip
	}

	stop := runAgent()
	answering("the pod to run and answer", 0)
	stop()
	rec, err := e.rt.readRecord(sandboxID(uid))
	if err != nil {
		t.Fatal(err)
	}
	if err := removeNetNS(rec.NetNSPath); err != nil { // what `ip netns del` does
		t.Fatal(err)
	}
	old := containerID(uid, "server", 0)
	if info, err := e.rt.ContainerStatus(ctx, old); err != nil || info.State != "running" {
		t.Fatalf("the first attempt before the restart: %+v, %v; want it still running in the dead namespace", info, err)
	}

	defer runAgent()()
	answering("the restarted agent to run the pod in a new sandbox", 1)
	if _, err := e.rt.ContainerStatus(ctx, old); err == nil {
		t.Errorf("the attempt left in the dead namespace, %s, still exists", old)
	}
	if ok, why, err := e.rt.SandboxHealthy(ctx, uid); !ok || err != nil {
		t.Errorf("SandboxHealthy after the rebuild = %v, %q, %v", ok, why, err)
	}
	if ips, err := e.rt.AllocatedIPs(); err != nil || len(ips) != 1 {
		t.Errorf("allocations after the rebuild = %v, %v; want the pod's one", ips, err)
	}
}

// staticCP is a control plane that assigns one pod to the node and keeps its last
// status report: all node.Agent needs to run a pod on this runtime.
type staticCP struct {
	node api.Node
	pod  api.PodRecord

	mu      sync.Mutex
	reports []api.PodStatusReport
}

func (c *staticCP) Register(ctx context.Context, reg api.NodeRegistration) (api.Node, error) {
	return c.node, nil
}

func (c *staticCP) Heartbeat(ctx context.Context, name string) error { return nil }

// WatchNode answers index 1 at once and then blocks like an idle server.
func (c *staticCP) WatchNode(ctx context.Context, name string, index uint64, wait time.Duration) (api.NodeView, error) {
	if index >= 1 {
		select {
		case <-ctx.Done():
			return api.NodeView{}, ctx.Err()
		case <-time.After(wait):
		}
	}
	return api.NodeView{Index: 1, Node: c.node, Nodes: []api.Node{c.node}, Pods: []api.PodRecord{c.pod}}, nil
}

func (c *staticCP) ReportStatus(ctx context.Context, reports []api.PodStatusReport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range reports {
		if r.UID == c.pod.UID {
			c.reports = append(c.reports, r)
		}
	}
	return nil
}

func (c *staticCP) latest() (api.PodStatusReport, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reports) == 0 {
		return api.PodStatusReport{}, false
	}
	return c.reports[len(c.reports)-1], true
}
