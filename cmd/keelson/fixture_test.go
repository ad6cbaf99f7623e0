package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/reconciler"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is the fixed clock of every golden test.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// testEnv is a cliEnv with the fixed clock, an empty environment and no terminal.
func testEnv() cliEnv {
	return cliEnv{
		now:      func() time.Time { return testNow },
		getenv:   func(string) string { return "" },
		terminal: func(io.Writer) bool { return false },
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// syncBuffer is an output a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run executes cmd with args and returns stdout, stderr and the exit code main would use.
func run(t *testing.T, ctx context.Context, cmd *cobra.Command, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut syncBuffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	return out.String(), errOut.String() + errString(err), exitCode(err)
}

// errString is what main prints on stderr for err.
func errString(err error) string {
	var ec *exitCodeError
	if err == nil || errors.As(err, &ec) && ec.Err == nil {
		return ""
	}
	return "error: " + err.Error()
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.Code
	}
	return 1
}

// fakeAPI serves canned answers of the read API, the way a server would, including
// the index header. Tests replace fields to simulate a change.
type fakeAPI struct {
	mu    sync.Mutex
	index uint64
	state fixture
	// changed is closed (and replaced) whenever the state changes, for blocking queries.
	changed chan struct{}
}

type fixture struct {
	status   api.StatusResponse
	nodes    []api.Node
	pods     []api.PodRecord
	services []api.ServiceView
	rcs      []api.RCView
	events   []api.Event
	eps      []api.Endpoints
	config   api.ReconcilerConfig
}

func newFakeAPI(t *testing.T) (*fakeAPI, string) {
	f := &fakeAPI{index: 42, state: testFixture(), changed: make(chan struct{})}
	f.state.config = reconciler.DefaultConfig().Published()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// set changes the state and wakes blocking queries.
func (f *fakeAPI) set(fn func(*fixture)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.state)
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if after, err := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64); err == nil && after > 0 {
		f.mu.Lock()
		idx, ch := f.index, f.changed
		f.mu.Unlock()
		if idx <= after {
			select {
			case <-ch:
			case <-r.Context().Done():
				return
			}
		}
	}
	f.mu.Lock()
	st, idx := f.state, f.index
	f.mu.Unlock()
	var body any
	switch r.URL.Path {
	case api.PathStatus:
		body = st.status
	case api.PathNodes:
		body = st.nodes
	case api.PathPods:
		ns := r.URL.Query().Get("namespace")
		out := []api.PodRecord{}
		for _, p := range st.pods {
			if ns == "" || p.Namespace == ns {
				out = append(out, p)
			}
		}
		body = out
	case api.PathServices:
		body = st.services
	case api.PathRCs:
		body = st.rcs
	case api.PathEndpoints:
		body = st.eps
	case api.PathConfig:
		body = st.config
	case api.PathEvents:
		since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
		out := []api.Event{}
		for _, e := range st.events {
			if e.Seq > since {
				out = append(out, e)
			}
		}
		body = out
	case api.PathLogs + "default/toolbox":
		w.Header().Set(api.IndexHeader, strconv.FormatUint(idx, 10))
		_, _ = io.WriteString(w, "line 1\nline 2 container="+r.URL.Query().Get("container")+" tail="+r.URL.Query().Get("tail")+"\n")
		return
	default:
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: "not found: " + r.URL.Path})
		return
	}
	w.Header().Set(api.IndexHeader, strconv.FormatUint(idx, 10))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func ago(d time.Duration) time.Time { return testNow.Add(-d) }

func container(name, image, cpu, mem string) corev1.Container {
	return corev1.Container{Name: name, Image: image,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}
}

// testFixture is a small cluster in every state the tables distinguish: a Ready and a
// NotReady node, running, pending, crash-looping and terminating pods, a pod in
// another namespace, a NodePort and a ClusterIP service, a refused revision.
func testFixture() fixture {
	const commit = "3f2a9c1d5e7b8a6f4c2d0e1b3a5c7d9e1f2a3b4c"
	web := "127.0.0.1:5000/keelson/web:v1"
	fe := map[string]string{"app": "shop", "tier": "frontend"}
	be := map[string]string{"app": "shop", "tier": "backend"}
	running := func(ip string, started time.Duration, restarts int32) api.PodStatus {
		return api.PodStatus{Phase: corev1.PodRunning, Ready: true, PodIP: ip, StartedAt: ago(started),
			Containers: []api.ContainerStatus{{Name: "web", Image: web, State: api.ContainerRunning, StartedAt: ago(started), Ready: true, RestartCount: restarts}}}
	}
	pods := []api.PodRecord{
		{UID: "u-be-1", Namespace: "default", Name: "backend-7xk2p", Owner: "ReplicationController/default/backend", Labels: be,
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("web", web, "50m", "32Mi")}}, Commit: commit, Node: "n2",
			Desire: api.DesireRun, CreatedAt: ago(3 * time.Hour),
			Status: api.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.5", Containers: []api.ContainerStatus{{
				Name: "web", Image: web, State: api.ContainerWaiting, Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container",
				RestartCount: 4}}}},
		{UID: "u-fe-1", Namespace: "default", Name: "frontend-b4m9q", Owner: "ReplicationController/default/frontend", Labels: fe,
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("web", web, "50m", "32Mi")}}, Commit: commit, Node: "n1",
			Desire: api.DesireRun, CreatedAt: ago(75 * time.Second), Status: running("10.244.0.7", 70*time.Second, 0)},
		{UID: "u-fe-2", Namespace: "default", Name: "frontend-pz8rt", Owner: "ReplicationController/default/frontend", Labels: fe,
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("web", web, "50m", "32Mi")}}, Commit: commit,
			Desire: api.DesireRun, CreatedAt: ago(20 * time.Second),
			Status: api.PodStatus{Reason: "Unschedulable", Message: "0/2 nodes fit: 1 NotReady, 1 insufficient cpu"}},
		{UID: "u-fe-0", Namespace: "default", Name: "frontend-old00", Owner: "ReplicationController/default/frontend", Labels: fe,
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("web", web, "50m", "32Mi")}}, Commit: "0badc0de", Node: "n1",
			Desire: api.DesireStop, CreatedAt: ago(50 * time.Hour), Status: running("10.244.0.3", 50*time.Hour, 1)},
		{UID: "u-tb", Namespace: "default", Name: "toolbox", Owner: "Pod/default/toolbox", Labels: map[string]string{"app": "shop", "tier": "toolbox"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("toolbox", web, "20m", "16Mi")}}, Commit: commit, Node: "n1",
			Desire: api.DesireRun, CreatedAt: ago(26 * time.Minute), Status: running("10.244.0.4", 25*time.Minute, 0)},
		{UID: "u-mon", Namespace: "ops", Name: "monitor", Owner: "Pod/ops/monitor", Labels: map[string]string{"app": "monitor"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("monitor", "127.0.0.1:5000/keelson/monitor:v3", "100m", "64Mi")}}, Commit: commit, Node: "n1",
			Desire: api.DesireRun, CreatedAt: ago(9 * 24 * time.Hour), Status: running("10.244.0.2", 9*24*time.Hour, 2)},
	}
	pods[4].Status.Containers[0].Name = "toolbox"
	pods[5].Status.Containers[0].Name = "monitor"
	nodes := []api.Node{
		{Name: "n1", Address: "192.168.1.10", AgentURL: "http://192.168.1.10:7481", Labels: map[string]string{"zone": "a"},
			Capacity: api.Resources{MilliCPU: 2000, MemoryBytes: 4 << 30}, Allocatable: api.Resources{MilliCPU: 1800, MemoryBytes: 3584 << 20},
			PodCIDR: "10.244.0.0/24", Status: api.NodeReady, RegisteredAt: ago(10 * 24 * time.Hour), StatusChangedAt: ago(10 * 24 * time.Hour)},
		{Name: "n2", Address: "192.168.1.11", AgentURL: "http://192.168.1.11:7481", Labels: map[string]string{"zone": "b"},
			Capacity: api.Resources{MilliCPU: 1000, MemoryBytes: 2 << 30}, Allocatable: api.Resources{MilliCPU: 1000, MemoryBytes: 2 << 30},
			PodCIDR: "10.244.1.0/24", Status: api.NodeNotReady, StatusReason: "no heartbeat for 14s", RegisteredAt: ago(5 * time.Hour), StatusChangedAt: ago(14 * time.Second)},
	}
	svcFE := api.ServiceView{
		ServiceRecord: api.ServiceRecord{Namespace: "default", Name: "frontend", Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.12", Selector: fe,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), NodePort: 30080, Protocol: corev1.ProtocolTCP}}}},
		Endpoints: []api.Endpoint{{ServicePort: "http", Protocol: corev1.ProtocolTCP, PodUID: "u-fe-1", PodName: "frontend-b4m9q", Node: "n1", IP: "10.244.0.7", Port: 8080, Ready: true}},
		Source:    api.Source{File: "frontend.yaml", Line: 49},
	}
	svcBE := api.ServiceView{
		ServiceRecord: api.ServiceRecord{Namespace: "default", Name: "backend", Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", Selector: be,
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 8080, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
				{Name: "echo", Port: 9090, TargetPort: intstr.FromString("echo"), Protocol: corev1.ProtocolUDP}}}},
		Endpoints: []api.Endpoint{
			{ServicePort: "http", Protocol: corev1.ProtocolTCP, PodUID: "u-be-1", PodName: "backend-7xk2p", Node: "n2", IP: "10.244.1.5", Port: 8080},
			{ServicePort: "echo", Protocol: corev1.ProtocolUDP, PodUID: "u-be-1", PodName: "backend-7xk2p", Node: "n2", IP: "10.244.1.5", Port: 9090}},
		Source: api.Source{File: "backend.yaml", Line: 45},
	}
	rcs := []api.RCView{
		{Namespace: "default", Name: "backend", Replicas: 1, Current: 1, Ready: 0, Selector: be, Images: []string{web},
			Source: api.Source{File: "backend.yaml", Line: 3},
			Status: api.ObjectStatus{Key: "ReplicationController/default/backend", Sync: api.Synced, Health: api.Degraded, Message: "0/1 ready", Ready: 0, Desired: 1}},
		{Namespace: "default", Name: "frontend", Replicas: 2, Current: 2, Ready: 1, Selector: fe, Images: []string{web},
			Source: api.Source{File: "frontend.yaml", Line: 2},
			Status: api.ObjectStatus{Key: "ReplicationController/default/frontend", Sync: api.Progressing, Health: api.HealthProgressing, Message: "rolling: 1/2 ready", Ready: 1, Desired: 2}},
	}
	events := []api.Event{
		{Seq: 101, Time: ago(75 * time.Second), Type: api.EventNormal, Object: "Pod/default/frontend-b4m9q", Reason: "Scheduled", Message: "assigned to n1"},
		{Seq: 102, Time: ago(40 * time.Second), Type: api.EventWarning, Object: "Pod/default/backend-7xk2p", Reason: "BackOff", Message: "container web restarting (4 restarts)"},
		{Seq: 103, Time: ago(20 * time.Second), Type: api.EventWarning, Object: "Pod/default/frontend-pz8rt", Reason: "FailedScheduling", Message: "0/2 nodes fit: 1 NotReady, 1 insufficient cpu"},
		{Seq: 104, Time: ago(14 * time.Second), Type: api.EventWarning, Object: "Node/n2", Reason: "NodeNotReady", Message: "no heartbeat for 10s"},
	}
	status := api.StatusResponse{
		Index: 42, Leader: "192.168.1.10:7482",
		Servers: []api.ServerInfo{
			{ID: "s1", RaftAddr: "192.168.1.10:7482", HTTPAddr: "http://192.168.1.10:7480", Leader: true, Voter: true},
			{ID: "s2", RaftAddr: "192.168.1.11:7482", HTTPAddr: "http://192.168.1.11:7480", Voter: true},
		},
		Cluster: api.ClusterStatus{AppliedCommit: commit, Sync: api.Progressing, Health: api.Degraded, Message: "1 object degraded", UpdatedAt: ago(14 * time.Second)},
		Applied: &api.Revision{Commit: commit, Author: "Ada Lovelace <ada@example.com>", Committer: "Ada Lovelace <ada@example.com>",
			Message: "Scale frontend to 2\n\nMore details in the body.", Time: ago(2 * time.Minute)},
		Refused: &api.RefusedRevision{Commit: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d", Author: "Bob <bob@example.com>",
			Message: "Add a debug pod", Time: ago(30 * time.Second), Reason: "2 invalid objects",
			Errors: []api.FieldError{
				{Pos: api.Position{File: "debug.yaml", Line: 8, Column: 5}, Object: "Pod/debug", Field: "spec.containers[0].tty", Message: "not supported by Keelson (see docs/fields.md)"},
				{Pos: api.Position{File: "debug.yaml", Line: 3, Column: 9}, Object: "Pod/debug", Field: "metadata.name", Message: "defined twice: first at toolbox.json:5"},
			}},
		Source: api.SourceStatus{URL: "/srv/keelson/shop.git", Branch: "main", Head: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d", Healthy: true, CheckedAt: ago(3 * time.Second)},
		Objects: []api.ObjectStatus{
			rcs[0].Status, rcs[1].Status,
			{Key: "Service/default/backend", Sync: api.Synced, Health: api.Healthy},
			{Key: "Service/default/frontend", Sync: api.Synced, Health: api.Healthy},
			{Key: "Pod/default/toolbox", Sync: api.Synced, Health: api.Healthy, Ready: 1, Desired: 1},
		},
		Nodes:    nodes,
		PodCount: map[string]int{"Running": 5, "Pending": 1},
		Events:   events,
	}
	eps := []api.Endpoints{
		{Namespace: "default", Name: "backend", Ports: svcBE.Endpoints},
		{Namespace: "default", Name: "frontend", Ports: svcFE.Endpoints},
	}
	return fixture{status: status, nodes: nodes, pods: pods, services: []api.ServiceView{svcBE, svcFE}, rcs: rcs, events: events, eps: eps}
}
