// Package agent tests the node agent on real containerd and CNI against a real
// in-process server (raft, the HTTP API, the reconciler): what the pod worker does with
// real containers, which the fake runtime of the node package cannot prove.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/imagebuild"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/containerd"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/reconciler"
	"github.com/keelson/keelson/server"
	"github.com/keelson/keelson/server/client"
)

// gitStub stands in for the Git source: the test hands it revisions.
type gitStub struct{ revs chan api.Revision }

func (g *gitStub) Run(ctx context.Context, deliver func(api.Revision)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-g.revs:
			deliver(r)
		}
	}
}
func (g *gitStub) Trigger()                       {}
func (g *gitStub) Status() api.SourceStatus       { return api.SourceStatus{Healthy: true} }
func (g *gitStub) push(t *testing.T, yaml string) { g.revs <- revision(t, yaml) }

var commits int

func revision(t *testing.T, yaml string) api.Revision {
	t.Helper()
	m, errs := api.Decode([]api.File{{Path: "pods.yaml", Data: []byte(yaml)}})
	if len(errs) > 0 {
		t.Fatalf("test manifests invalid: %v", errs)
	}
	commits++
	return api.Revision{Commit: fmt.Sprintf("%040x", commits), Objects: m, Time: time.Now()}
}

type cluster struct {
	cli *client.Client
	git *gitStub
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
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))

	addr, trans := raft.NewInmemTransport("")
	rc := raftstore.Config{ID: "s1", Bootstrap: true, InMemory: true, Transport: trans, Logger: log,
		Peers: []raftstore.Peer{{ID: "s1", Addr: string(addr)}}}
	rc.UseFastTimeouts()
	st, err := raftstore.Open(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	git := &gitStub{revs: make(chan api.Revision, 4)}
	rcfg := reconciler.DefaultConfig()
	rcfg.ClusterCIDR = "10.250.0.0/16" // away from the dev cluster's 10.244/16
	serverDir := t.TempDir()
	// Bootstrap makes the CA and tokens in the data dir, as for a real first server.
	srv, err := server.New(server.Config{ID: "s1", DataDir: serverDir, Bootstrap: true, ReconcileInterval: 100 * time.Millisecond}, server.Deps{
		Logger: log, Store: st,
		NewSource: func() (server.Source, error) { return git, nil },
		Planner:   func(in reconciler.Observed) reconciler.Result { return reconciler.Plan(rcfg, in) },
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.TLS = srv.TLSConfig()
	hs.StartTLS()
	t.Cleanup(hs.Close)
	go func() { _ = srv.Run(ctx) }()

	dataDir := t.TempDir()
	rt, err := containerd.New(ctx, containerd.Config{
		Address: sock, StateDir: filepath.Join(dataDir, "runtime"), BridgeName: "kls-agt",
		InsecureRegistries: []string{reg},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The agent exchanges the node-join token for its certificate, as `keelson agent` does.
	nodeToken, err := pki.ReadTokenFile(pki.ServerFiles{DataDir: serverDir}.NodeTokens())
	if err != nil {
		t.Fatal(err)
	}
	files, err := client.NodeCredentials(ctx, []string{hs.URL}, nodeToken.String(), "", "n1", []string{"127.0.0.1"}, filepath.Join(dataDir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	dial, _, err := files.NodeTLS()
	if err != nil {
		t.Fatal(err)
	}
	cli := client.New([]string{hs.URL}, "", client.WithTLSConfig(dial))
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
		removeAll(t, rt)
	})
	readToken, err := pki.ReadTokenFile(pki.ServerFiles{DataDir: serverDir}.ReadTokens())
	if err != nil {
		t.Fatal(err)
	}
	reader, err := client.TLSFiles{CAFile: pki.ServerFiles{DataDir: serverDir}.CACert()}.Config()
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{cli: client.New([]string{hs.URL}, readToken.Secret, client.WithTLSConfig(reader)), git: git, img: img}
}

func removeAll(t *testing.T, rt node.Runtime) {
	ctx := context.Background()
	cs, _ := rt.ListContainers(ctx)
	for _, c := range cs {
		_ = rt.StopContainer(ctx, c.ID, time.Second)
		if err := rt.RemoveContainer(ctx, c.ID); err != nil {
			t.Errorf("remove container %s: %v", c.ID, err)
		}
	}
	sbs, _ := rt.ListSandboxes(ctx)
	for _, s := range sbs {
		if err := rt.RemoveSandbox(ctx, s.PodUID); err != nil {
			t.Errorf("remove sandbox %s: %v", s.PodUID, err)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

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
