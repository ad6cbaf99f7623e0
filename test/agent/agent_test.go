// Package agent tests the node agent on real containerd and CNI against a real
// in-process server (raft, the HTTP API, the reconciler): what the pod worker does with
// real containers, which the fake runtime of the node package cannot prove.
package agent

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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

type cluster struct {
	cli *client.Client
	git *harness.GitStub
	img string
}

// start runs one server (in-memory raft, real reconciler) and one agent on a private
// containerd, with crash-loop backoff shrunk so the test sees several restarts.
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
	rcfg.ClusterCIDR = "10.250.0.0/16" // away from the dev cluster's 10.244/16
	srv := harness.StartInProc(t, ctx, log, rcfg)

	dataDir := t.TempDir()
	rt, err := containerd.New(ctx, containerd.Config{
		Address: sock, StateDir: filepath.Join(dataDir, "runtime"), BridgeName: "kls-agt",
		InsecureRegistries: []string{reg},
	})
	if err != nil {
		t.Fatal(err)
	}
	cli := srv.NodeClient(t, ctx, "n1", dataDir)
	a, err := node.NewAgent(node.Config{
		Name: "n1", Address: "127.0.0.1", DataDir: dataDir,
		Capacity: api.Resources{MilliCPU: 2000, MemoryBytes: 4 << 30},
		Runtime:  rt, ControlPlane: cli, Logger: log,
		BackoffInitial: 500 * time.Millisecond, BackoffMax: 2 * time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan struct{})
	actx, stopAgent := context.WithCancel(ctx)
	go func() { defer close(agentDone); _ = a.Run(actx) }()
	// Cleanups run last-in first-out: stop the agent, then remove what it left.
	t.Cleanup(func() {
		_ = os.RemoveAll(filepath.Join(dataDir, "pods"))
		_ = rt.Close()
		if out, err := exec.Command("ip", "link", "del", "kls-agt").CombinedOutput(); err != nil {
			t.Errorf("delete bridge: %v: %s", err, out)
		}
	})
	t.Cleanup(func() {
		stopAgent()
		<-agentDone
		harness.RemovePods(t, rt)
	})
	return &cluster{cli: srv.ReadClient(t), git: srv.Git, img: img}
}

// pod returns the pod record named name, if any.
func (c *cluster) pod(t *testing.T, name string) (api.PodRecord, bool) {
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

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Poll(t, d, 50*time.Millisecond, what, cond)
}
