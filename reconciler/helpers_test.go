package reconciler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testConfig returns a Config with deterministic UIDs and name suffixes.
func testConfig() Config {
	cfg := DefaultConfig()
	uid, sfx := 0, 0
	cfg.NewUID = func() string { uid++; return fmt.Sprintf("uid-%06d", uid) }
	cfg.NameSuffix = func() string { sfx++; return fmt.Sprintf("%05d", sfx) }
	cfg.MaxPodsPerBatch = 0
	return cfg
}

func mkNode(name string, milliCPU int64, labels map[string]string) api.Node {
	r := api.Resources{MilliCPU: milliCPU, MemoryBytes: 8 << 30}
	return api.Node{Name: name, Address: "192.0.2.1", Labels: labels, Capacity: r, Allocatable: r, Status: api.NodeReady}
}

func mkNodes(n int, milliCPU int64) []api.Node {
	out := make([]api.Node, n)
	for i := range out {
		out[i] = mkNode(fmt.Sprintf("n%03d", i), milliCPU, nil)
	}
	return out
}

func container(image, cpu string) corev1.Container {
	c := corev1.Container{Name: "app", Image: image, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}
	if cpu != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return c
}

func mkRC(name string, replicas int32, labels map[string]string, image, cpu string) corev1.ReplicationController {
	rc := corev1.ReplicationController{}
	rc.Name, rc.Namespace = name, "default"
	rc.Spec.Replicas = &replicas
	rc.Spec.Selector = labels
	rc.Spec.Template = &corev1.PodTemplateSpec{}
	rc.Spec.Template.Labels = labels
	rc.Spec.Template.Spec.Containers = []corev1.Container{container(image, cpu)}
	return rc
}

func mkPod(name string, labels map[string]string, image string) corev1.Pod {
	p := corev1.Pod{}
	p.Name, p.Namespace, p.Labels = name, "default", labels
	p.Spec.Containers = []corev1.Container{container(image, "")}
	return p
}

func mkSvc(name string, sel map[string]string, target intstr.IntOrString) corev1.Service {
	s := corev1.Service{}
	s.Name, s.Namespace = name, "default"
	s.Spec.Type = corev1.ServiceTypeClusterIP
	s.Spec.Selector = sel
	s.Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: target}}
	return s
}

func rev(commit string, m api.Manifests) *api.Revision {
	return &api.Revision{Commit: commit, Objects: m}
}

// world builds an Observed with every node heartbeating now and CIDRs allocated.
func world(t *testing.T, cfg Config, nodes []api.Node, m api.Manifests) Observed {
	t.Helper()
	in := Observed{Now: t0, Desired: rev("c1", m), Nodes: nodes, Heartbeats: map[string]time.Time{}}
	for _, n := range nodes {
		in.Heartbeats[n.Name] = t0
		if n.Status == api.NodeNotReady {
			in.Heartbeats[n.Name] = t0.Add(-15 * time.Second) // stays NotReady
		}
	}
	// Allocate pod CIDRs first, as the real loop would have long before.
	r := Plan(cfg, Observed{Now: t0, Nodes: nodes, Heartbeats: in.Heartbeats})
	r.Changes.Nodes = slices.DeleteFunc(r.Changes.Nodes, func(p api.NodePatch) bool { return p.PodCIDR == "" })
	in = mustApply(t, in, api.Changes{Nodes: r.Changes.Nodes})
	return in
}

// settle runs the loop with simulated agents to a fixed point.
func settle(t *testing.T, cfg Config, in Observed) Observed {
	t.Helper()
	out, steps, err := Simulate(cfg, in, 200)
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	if len(steps) >= 200 {
		t.Fatalf("did not converge in 200 steps")
	}
	return out
}

// readyAll marks every scheduled Run pod Running+Ready (an agent round).
func readyAll(t *testing.T, in Observed) Observed {
	t.Helper()
	out, _, err := simulateAgents(in)
	if err != nil {
		t.Fatalf("agents: %v", err)
	}
	return out
}

// mustApply applies a batch the way the store does; a refused batch fails the test.
func mustApply(t testing.TB, in Observed, c api.Changes) Observed {
	t.Helper()
	out, err := Apply(in, c)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return out
}

func count(actions []Action, typ ActionType) int {
	n := 0
	for _, a := range actions {
		if a.Type == typ {
			n++
		}
	}
	return n
}

func podsOf(in Observed, owner string, desire api.PodDesire) []api.PodRecord {
	var out []api.PodRecord
	for _, p := range in.Pods {
		if p.Owner == owner && p.Desire == desire {
			out = append(out, p)
		}
	}
	return out
}

func hasEvent(evs []api.Event, reason, substr string) bool {
	for _, e := range evs {
		if e.Reason == reason && (substr == "" || contains(e.Message, substr)) {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// assertQuiet checks the idempotence property: planning again on the state after
// applying a step's changes (nothing else changed) changes no pods and emits nothing.
func assertQuiet(t *testing.T, cfg Config, in Observed) {
	t.Helper()
	r := Plan(cfg, in)
	c := r.Changes
	if len(c.UpsertPods)+len(c.DeletePods)+len(c.SetPodStatus) > 0 || len(c.Events) > 0 || len(c.UpsertServices) > 0 || len(c.SetEndpoints) > 0 {
		t.Fatalf("not idempotent: second Plan changed %d/%d/%d pods, %d services, %d endpoints, events %+v, actions %+v",
			len(c.UpsertPods), len(c.DeletePods), len(c.SetPodStatus), len(c.UpsertServices), len(c.SetEndpoints), c.Events, r.Actions)
	}
}

const rcWeb = "ReplicationController/default/web"

var webLabels = map[string]string{"app": "web"}

func intstrName(s string) intstr.IntOrString { return intstr.FromString(s) }
