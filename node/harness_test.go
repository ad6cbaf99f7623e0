package node_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/nodetest"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// fakeCP is an in-memory control plane: a node record, a list of pods, services, and
// a state index bumped by every change; WatchNode blocks like the real API.
type fakeCP struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	index    uint64
	node     api.Node
	pods     map[string]api.PodRecord
	services []api.ServiceRecord
	down     bool
	failed   int // calls refused while down

	registers int
	// stale, when set, answers that many watches with an empty view of index 1, as a
	// follower that lags far behind would; staleServed counts them. hold makes every
	// later watch wait (holding counts the waiting calls) until hold is cleared.
	stale, staleServed int
	hold               bool
	holding            int
	reports            []api.PodStatusReport // every delivered report, in order
	latest             map[string]api.PodStatusReport
}

var errDown = errors.New("servers unreachable")

func newFakeCP(podCIDR string) *fakeCP {
	return &fakeCP{changed: make(chan struct{}), index: 1, pods: map[string]api.PodRecord{},
		latest: map[string]api.PodStatusReport{}, node: api.Node{PodCIDR: podCIDR}}
}

func (f *fakeCP) bumpLocked() {
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeCP) Register(ctx context.Context, reg api.NodeRegistration) (api.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.failed++
		return api.Node{}, errDown
	}
	f.registers++
	f.node.Name, f.node.Address, f.node.AgentURL = reg.Name, reg.Address, reg.AgentURL
	f.node.Capacity, f.node.Allocatable, f.node.Status = reg.Capacity, reg.Allocatable, api.NodeReady
	return f.node, nil
}

func (f *fakeCP) Heartbeat(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.failed++
		return errDown
	}
	return nil
}

func (f *fakeCP) WatchNode(ctx context.Context, name string, index uint64, wait time.Duration) (api.NodeView, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		f.mu.Lock()
		if f.down {
			f.failed++
			f.mu.Unlock()
			return api.NodeView{}, errDown
		}
		if f.stale > 0 {
			f.stale--
			f.staleServed++
			v := api.NodeView{Index: 1, Node: f.node, Nodes: []api.Node{f.node}}
			f.mu.Unlock()
			return v, nil
		}
		if f.hold {
			f.holding++
			ch := f.changed
			f.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return api.NodeView{}, ctx.Err()
			}
		}
		if f.index > index {
			v := f.viewLocked()
			f.mu.Unlock()
			return v, nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			f.mu.Lock()
			v := f.viewLocked()
			f.mu.Unlock()
			return v, nil
		case <-ctx.Done():
			return api.NodeView{}, ctx.Err()
		}
	}
}

func (f *fakeCP) viewLocked() api.NodeView {
	v := api.NodeView{Index: f.index, Node: f.node, Services: f.services, Nodes: []api.Node{f.node}}
	for _, p := range f.pods {
		v.Pods = append(v.Pods, p)
	}
	sort.Slice(v.Pods, func(i, j int) bool { return v.Pods[i].UID < v.Pods[j].UID })
	return v
}

func (f *fakeCP) ReportStatus(ctx context.Context, reports []api.PodStatusReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.failed++
		return errDown
	}
	for _, r := range reports {
		f.reports = append(f.reports, r)
		f.latest[r.UID] = r
	}
	return nil
}

func (f *fakeCP) setPod(p api.PodRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods[p.UID] = p
	f.bumpLocked()
}

func (f *fakeCP) removePod(uid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pods, uid)
	f.bumpLocked()
}

func (f *fakeCP) setDesire(uid string, d api.PodDesire) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pods[uid]
	p.Desire = d
	f.pods[uid] = p
	f.bumpLocked()
}

func (f *fakeCP) setPodCIDR(cidr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.node.PodCIDR = cidr
	f.bumpLocked()
}

func (f *fakeCP) setServices(s []api.ServiceRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services = s
	f.bumpLocked()
}

func (f *fakeCP) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeCP) failedCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func (f *fakeCP) report(uid string) (api.PodStatusReport, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.latest[uid]
	return r, ok
}

func (f *fakeCP) history(uid string) []api.PodStatusReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.PodStatusReport
	for _, r := range f.reports {
		if r.UID == uid {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeCP) forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports = nil
	clear(f.latest)
}

// testConfig shrinks every duration so state machines move in milliseconds.
func testConfig(t *testing.T, rt node.Runtime, cp node.ControlPlane) node.Config {
	return node.Config{
		Name: "n1", Address: "192.0.2.1", DataDir: t.TempDir(),
		Capacity:          api.Resources{MilliCPU: 4000, MemoryBytes: 8 << 30},
		HeartbeatInterval: 20 * time.Millisecond, StatusBatchInterval: 10 * time.Millisecond,
		WatchWait: 200 * time.Millisecond, SyncInterval: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		BackoffInitial: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond, BackoffReset: time.Hour,
		SpecSecond: 10 * time.Millisecond,
		Runtime:    rt, ControlPlane: cp,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// runAgent starts an agent and returns a function that stops it and waits for Run.
func runAgent(t *testing.T, cfg node.Config) (*node.Agent, func()) {
	t.Helper()
	a, err := node.NewAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Poll(t, 10*time.Second, 2*time.Millisecond, what, cond)
}

// waitStatus waits for the pod's latest delivered report to satisfy cond.
func waitStatus(t *testing.T, cp *fakeCP, uid, what string, cond func(api.PodStatusReport) bool) api.PodStatusReport {
	t.Helper()
	var last api.PodStatusReport
	testenv.PollDetail(t, 10*time.Second, 2*time.Millisecond, "pod "+uid+": "+what, func() (bool, string) {
		r, ok := cp.report(uid)
		last = r
		return ok && cond(r), fmt.Sprintf("last report: %+v", r)
	})
	return last
}

func running(r api.PodStatusReport) bool {
	return r.Status.Phase == corev1.PodRunning && r.Status.Ready
}

func pod(uid string, containers ...corev1.Container) api.PodRecord {
	return api.PodRecord{UID: uid, Namespace: "default", Name: "pod-" + uid, Node: "n1", Desire: api.DesireRun,
		Spec: corev1.PodSpec{Containers: containers}}
}

func ctr(name string) corev1.Container {
	return corev1.Container{Name: name, Image: "registry.local/" + name + ":v1"}
}

func int64p(v int64) *int64 { return &v }

// podContainers lists the runtime's containers of one pod.
func podContainers(t *testing.T, rt *nodetest.FakeRuntime, uid string) []node.ContainerInfo {
	t.Helper()
	all, err := rt.ListContainers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []node.ContainerInfo
	for _, c := range all {
		if c.PodUID == uid {
			out = append(out, c)
		}
	}
	return out
}
