package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/nodetest"
	corev1 "k8s.io/api/core/v1"
)

// errCut is what a cut-off agent's calls fail with.
var errCut = errors.New("bench: node cut off")

// cuttable is a ControlPlane that can be cut off: from the servers' side the node is
// then exactly as dead as a crashed machine (no heartbeats, no reports), which is what
// node-loss handling reacts to.
type cuttable struct {
	node.ControlPlane
	cut atomic.Bool
}

func (c *cuttable) Register(ctx context.Context, r api.NodeRegistration) (api.Node, error) {
	if c.cut.Load() {
		return api.Node{}, errCut
	}
	return c.ControlPlane.Register(ctx, r)
}

func (c *cuttable) Heartbeat(ctx context.Context, name string) error {
	if c.cut.Load() {
		return errCut
	}
	return c.ControlPlane.Heartbeat(ctx, name)
}

func (c *cuttable) WatchNode(ctx context.Context, name string, idx uint64, wait time.Duration) (api.NodeView, error) {
	if c.cut.Load() {
		return api.NodeView{}, errCut
	}
	return c.ControlPlane.WatchNode(ctx, name, idx, wait)
}

func (c *cuttable) ReportStatus(ctx context.Context, rs []api.PodStatusReport) error {
	if c.cut.Load() {
		return errCut
	}
	return c.ControlPlane.ReportStatus(ctx, rs)
}

// fakeAgent is a full node.Agent on the in-memory runtime, in this process.
type fakeAgent struct {
	cp   *cuttable
	stop func()
}

// startFakeAgent runs an agent with default intervals against cp.
func startFakeAgent(b testing.TB, name string, cp node.ControlPlane) *fakeAgent {
	b.Helper()
	fa := &fakeAgent{cp: &cuttable{ControlPlane: cp}}
	a, err := node.NewAgent(node.Config{
		Name: name, Address: "192.0.2.1", DataDir: filepath.Join(b.TempDir(), name),
		Capacity: api.Resources{MilliCPU: 16000, MemoryBytes: 64 << 30},
		Runtime:  nodetest.NewFakeRuntime(), ControlPlane: fa.cp, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatalf("agent %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	fa.stop = func() { once.Do(func() { cancel(); <-done }) }
	b.Cleanup(fa.stop)
	return fa
}

// rcRepo creates a bare repository whose main branch holds one RC named name with n
// replicas of a small pod.
func rcRepo(b testing.TB, name string, n int) *devenv.Repo {
	b.Helper()
	dir := b.TempDir()
	seed := filepath.Join(dir, "seed")
	if err := os.MkdirAll(seed, 0o755); err != nil {
		b.Fatal(err)
	}
	rc := strings.ReplaceAll(scaleRC(0, n), "app-00", name)
	if err := os.WriteFile(filepath.Join(seed, name+".yaml"), []byte(rc), 0o644); err != nil {
		b.Fatal(err)
	}
	repo, err := devenv.NewRepo(dir, seed)
	if err != nil {
		b.Fatal(err)
	}
	return repo
}

// countRunning counts pods to run that are Running, in total and per node.
func countRunning(pods []api.PodRecord) (total, running int, byNode map[string]int) {
	byNode = map[string]int{}
	for _, p := range pods {
		if p.Desire != api.DesireRun {
			continue
		}
		total++
		if p.Node != "" && p.Status.Phase == corev1.PodRunning {
			running++
			byNode[p.Node]++
		}
	}
	return total, running, byNode
}

// describe is a short text of pod placement for failure messages.
func describe(pods []api.PodRecord) string {
	t, r, by := countRunning(pods)
	return fmt.Sprintf("%d to run, %d running, by node %v", t, r, by)
}
