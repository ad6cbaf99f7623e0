package kubeapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// fakeState is an in-memory State for unit tests; every test also runs on the real
// store through test/kubectl.
type fakeState struct {
	index    uint64
	tables   map[string]uint64
	pods     []api.PodRecord
	nodes    []api.Node
	services []api.ServiceRecord
	eps      []api.Endpoints
	events   []api.Event
	rev      *api.Revision
	objects  []api.ObjectStatus
	source   api.SourceStatus
}

func (s *fakeState) Index() uint64              { return s.index }
func (s *fakeState) TableIndex(n string) uint64 { return s.tables[n] }
func (s *fakeState) Pods() []api.PodRecord      { return append([]api.PodRecord(nil), s.pods...) }
func (s *fakeState) Nodes() []api.Node          { return append([]api.Node(nil), s.nodes...) }
func (s *fakeState) Services() []api.ServiceRecord {
	return append([]api.ServiceRecord(nil), s.services...)
}
func (s *fakeState) Endpoints() []api.Endpoints       { return append([]api.Endpoints(nil), s.eps...) }
func (s *fakeState) Revision() *api.Revision          { return s.rev }
func (s *fakeState) ObjectStatus() []api.ObjectStatus { return s.objects }
func (s *fakeState) Source() api.SourceStatus         { return s.source }
func (s *fakeState) Events(since uint64, limit int) []api.Event {
	var out []api.Event
	for _, e := range s.events {
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out
}

func (s *fakeState) PodsByOwner(owner string) []api.PodRecord {
	var out []api.PodRecord
	for _, p := range s.pods {
		if p.Owner == owner {
			out = append(out, p)
		}
	}
	return out
}

// clone copies the state so a test can change the next version without touching
// views handed out before (the real store's views are immutable too).
func (s *fakeState) clone() *fakeState {
	c := *s
	c.tables = map[string]uint64{}
	for k, v := range s.tables {
		c.tables[k] = v
	}
	c.pods = append([]api.PodRecord(nil), s.pods...)
	c.events = append([]api.Event(nil), s.events...)
	return &c
}

// fakeStore hands out the current fakeState and wakes waiters on update.
type fakeStore struct {
	mu   sync.Mutex
	cur  *fakeState
	wake chan struct{}
}

func newFakeStore(st *fakeState) *fakeStore { return &fakeStore{cur: st, wake: make(chan struct{})} }

func (f *fakeStore) Snapshot() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

func (f *fakeStore) WaitIndex(ctx context.Context, after uint64) (uint64, error) {
	for {
		f.mu.Lock()
		idx, ch := f.cur.index, f.wake
		f.mu.Unlock()
		if idx > after {
			return idx, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return idx, ctx.Err()
		}
	}
}

// update applies change to a copy of the current state at the next index, marking
// the named tables changed.
func (f *fakeStore) update(change func(*fakeState), tables ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := f.cur.clone()
	next.index++
	for _, t := range tables {
		next.tables[t] = next.index
	}
	change(next)
	f.cur = next
	close(f.wake)
	f.wake = make(chan struct{})
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func replicas(n int32) *int32 { return &n }

// exampleState is a small cluster: two nodes, an RC of two pods (one ready on n1, one
// crash-looping on n2), a bare pending pod, a service with endpoints, events.
func exampleState() *fakeState {
	tmpl := corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "reg/web:v1"}}}
	rc := corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{
		Replicas: replicas(2), Selector: map[string]string{"app": "web"},
		Template: &corev1.PodTemplateSpec{Spec: tmpl},
	}}
	rc.Name, rc.Namespace, rc.Labels = "web", "default", map[string]string{"app": "web"}
	svc := corev1.Service{}
	svc.Name, svc.Namespace, svc.Labels = "web", "default", map[string]string{"tier": "front"}
	return &fakeState{
		index:  20,
		tables: map[string]uint64{"pods": 18, "nodes": 5, "services": 10, "endpoints": 19, "events": 20, "meta": 8, "objects": 9},
		nodes: []api.Node{
			{Name: "n1", Address: "192.0.2.1", PodCIDR: "10.244.1.0/24", Status: api.NodeReady, RegisteredAt: t0,
				Capacity: api.Resources{MilliCPU: 2000, MemoryBytes: 4 << 30}, Allocatable: api.Resources{MilliCPU: 1900, MemoryBytes: 3 << 30}},
			{Name: "n2", Address: "192.0.2.2", PodCIDR: "10.244.2.0/24", Status: api.NodeNotReady, RegisteredAt: t0},
		},
		pods: []api.PodRecord{
			{UID: "u-a", Namespace: "default", Name: "web-aaaaa", Owner: "ReplicationController/default/web", Labels: map[string]string{"app": "web"},
				Spec: tmpl, Node: "n1", Desire: api.DesireRun, CreatedAt: t0,
				Status: api.PodStatus{Phase: corev1.PodRunning, Ready: true, PodIP: "10.244.1.5", StartedAt: t0.Add(time.Second),
					Containers: []api.ContainerStatus{{Name: "web", State: api.ContainerRunning, Ready: true, StartedAt: t0.Add(time.Second)}}}},
			{UID: "u-b", Namespace: "default", Name: "web-bbbbb", Owner: "ReplicationController/default/web", Labels: map[string]string{"app": "web"},
				Spec: tmpl, Node: "n2", Desire: api.DesireRun, CreatedAt: t0,
				Status: api.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.2.7",
					Containers: []api.ContainerStatus{{Name: "web", State: api.ContainerWaiting, Reason: "CrashLoopBackOff", RestartCount: 3,
						ExitCode: 2, FinishedAt: t0.Add(time.Minute)}}}},
			{UID: "u-c", Namespace: "tools", Name: "debug", Owner: "Pod/tools/debug", Labels: map[string]string{"app": "debug"},
				Spec: tmpl, Desire: api.DesireRun, CreatedAt: t0, Status: api.PodStatus{Reason: "Unschedulable"}},
		},
		services: []api.ServiceRecord{{Namespace: "default", Name: "web", Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}}}}},
		eps: []api.Endpoints{{Namespace: "default", Name: "web", Ports: []api.Endpoint{
			{ServicePort: "http", Protocol: corev1.ProtocolTCP, PodUID: "u-a", PodName: "web-aaaaa", Node: "n1", IP: "10.244.1.5", Port: 8080, Ready: true},
			{ServicePort: "http", Protocol: corev1.ProtocolTCP, PodUID: "u-b", PodName: "web-bbbbb", Node: "n2", IP: "10.244.2.7", Port: 8080},
		}}},
		events: []api.Event{
			{Seq: 1, Time: t0, Type: api.EventNormal, Object: "Pod/default/web-aaaaa", Reason: "Scheduled", Message: "assigned to n1"},
			{Seq: 2, Time: t0, Type: api.EventWarning, Object: "Pod/default/web-bbbbb", Reason: "BackOff", Message: "restarting"},
			{Seq: 3, Time: t0, Type: api.EventWarning, Object: "Node/n2", Reason: "NodeNotReady", Message: "missed heartbeats"},
		},
		rev: &api.Revision{Commit: "abc1234def", Time: t0, Objects: api.Manifests{
			ReplicationControllers: []corev1.ReplicationController{rc}, Services: []corev1.Service{svc},
		}},
		source: api.SourceStatus{URL: "https://deploy:s3cret@git.example/team/app.git", Branch: "main"},
	}
}

// serve starts the handler on a real listener (as the server mounts it).
func serve(t testing.TB, store Store, logs LogFunc) *httptest.Server {
	t.Helper()
	h := New(Options{Store: store, Logs: logs, Now: func() time.Time { return t0.Add(time.Hour) }})
	mux := http.NewServeMux()
	for _, p := range Patterns {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
