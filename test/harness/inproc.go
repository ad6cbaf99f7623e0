package harness

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/reconciler"
	"github.com/keelson/keelson/server"
	"github.com/keelson/keelson/server/client"
)

// InProc is one keelson server inside the test process: in-memory raft, the real
// reconciler, the real HTTPS API (on an httptest listener) with the credentials a
// bootstrap makes, and a Git source the test feeds with Push. Agent tests that run
// the agent in process too use it, so they exercise the same wire and identities as
// real processes without starting a server binary.
type InProc struct {
	URL     string
	DataDir string // the server's data dir: its CA and token files
	Git     *GitStub
}

// StartInProc starts the server; everything stops when the test ends.
func StartInProc(t *testing.T, ctx context.Context, log *slog.Logger, rcfg reconciler.Config) *InProc {
	t.Helper()
	addr, trans := raft.NewInmemTransport("")
	rc := raftstore.Config{ID: "s1", Bootstrap: true, InMemory: true, Transport: trans, Logger: log,
		Peers: []raftstore.Peer{{ID: "s1", Addr: string(addr)}}}
	rc.UseFastTimeouts()
	st, err := raftstore.Open(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &InProc{DataDir: t.TempDir(), Git: &GitStub{revs: make(chan api.Revision, 4)}}
	// Bootstrap makes the CA and tokens in the data dir, as for a real first server.
	srv, err := server.New(server.Config{ID: "s1", DataDir: s.DataDir, Bootstrap: true, ReconcileInterval: 100 * time.Millisecond}, server.Deps{
		Logger: log, Store: st,
		NewSource: func() (server.Source, error) { return s.Git, nil },
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
	s.URL = hs.URL
	return s
}

func (s *InProc) files() pki.ServerFiles { return pki.ServerFiles{DataDir: s.DataDir} }

// NodeClient is what `keelson agent` does at start: it exchanges the node-join token
// for the node's certificate (kept under agentDataDir/tls) and talks as that node.
func (s *InProc) NodeClient(t *testing.T, ctx context.Context, name, agentDataDir string) *client.Client {
	t.Helper()
	tok, err := pki.ReadTokenFile(s.files().NodeTokens())
	if err != nil {
		t.Fatal(err)
	}
	files, err := client.NodeCredentials(ctx, []string{s.URL}, tok.String(), "", name, []string{"127.0.0.1"}, filepath.Join(agentDataDir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	dial, _, err := files.NodeTLS()
	if err != nil {
		t.Fatal(err)
	}
	return client.New([]string{s.URL}, "", client.WithTLSConfig(dial))
}

// ReadClient reads as people and tools do: the read token over the cluster CA.
func (s *InProc) ReadClient(t *testing.T) *client.Client {
	t.Helper()
	tok, err := pki.ReadTokenFile(s.files().ReadTokens())
	if err != nil {
		t.Fatal(err)
	}
	tc, err := client.TLSFiles{CAFile: s.files().CACert()}.Config()
	if err != nil {
		t.Fatal(err)
	}
	return client.New([]string{s.URL}, tok.Secret, client.WithTLSConfig(tc))
}

// GitStub stands in for the Git source: the test hands it revisions.
type GitStub struct {
	revs chan api.Revision

	mu      sync.Mutex
	commits int
}

func (g *GitStub) Run(ctx context.Context, deliver func(api.Revision)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-g.revs:
			deliver(r)
		}
	}
}

func (g *GitStub) Trigger()                 {}
func (g *GitStub) Status() api.SourceStatus { return api.SourceStatus{Healthy: true} }

// Push delivers yaml (one file, pods.yaml) as the next commit.
func (g *GitStub) Push(t *testing.T, yaml string) {
	t.Helper()
	m, errs := api.Decode([]api.File{{Path: "pods.yaml", Data: []byte(yaml)}})
	if len(errs) > 0 {
		t.Fatalf("test manifests invalid: %v", errs)
	}
	g.mu.Lock()
	g.commits++
	n := g.commits
	g.mu.Unlock()
	g.revs <- api.Revision{Commit: fmt.Sprintf("%040x", n), Objects: m, Time: time.Now()}
}

// RemovePods stops and removes every container and sandbox a runtime holds, reporting
// what could not be removed.
func RemovePods(t *testing.T, rt node.Runtime) {
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

// TestLog writes log lines to the test's log.
type TestLog struct{ T *testing.T }

func (w TestLog) Write(p []byte) (int, error) { w.T.Log(string(p)); return len(p), nil }
