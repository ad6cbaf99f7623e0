package reconciler

import (
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func svcRecord(in Observed, name string) *api.ServiceRecord {
	for i := range in.Services {
		if in.Services[i].Name == name {
			return &in.Services[i]
		}
	}
	return nil
}

func objStatus(in Observed, key string) api.ObjectStatus {
	for _, s := range in.ObjectStatus {
		if s.Key == key {
			return s
		}
	}
	return api.ObjectStatus{}
}

func TestServiceAllocation(t *testing.T) {
	cfg := testConfig()
	explicit := mkSvc("fixed", webLabels, intstr.FromInt32(8080))
	explicit.Spec.ClusterIP = "10.96.0.50"
	headless := mkSvc("hl", webLabels, intstr.FromInt32(8080))
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	ext := corev1.Service{}
	ext.Name, ext.Namespace = "ext", "default"
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
	np := mkSvc("np", webLabels, intstr.FromInt32(8080))
	np.Spec.Type = corev1.ServiceTypeNodePort
	np.Spec.Ports = append(np.Spec.Ports, corev1.ServicePort{Name: "admin", Port: 81, NodePort: 30005, Protocol: corev1.ProtocolTCP})
	m := api.Manifests{Services: []corev1.Service{mkSvc("a", webLabels, intstr.FromInt32(8080)), ext, explicit, headless, np}}
	in := world(t, cfg, mkNodes(1, 1000), m)
	r := Plan(cfg, in)
	in = mustApply(t, in, r.Changes)

	for name, want := range map[string]string{"a": "10.96.0.10", "fixed": "10.96.0.50", "hl": "None", "ext": "", "np": "10.96.0.11"} {
		s := svcRecord(in, name)
		if s == nil || s.Spec.ClusterIP != want {
			t.Fatalf("service %s: %+v, want clusterIP %q", name, s, want)
		}
	}
	if p := svcRecord(in, "np").Spec.Ports; p[0].NodePort != 30000 || p[1].NodePort != 30005 {
		t.Fatalf("node ports %+v", p)
	}
	if svcRecord(in, "a").Spec.Ports[0].NodePort != 0 {
		t.Fatalf("ClusterIP service got a node port")
	}
	assertQuiet(t, cfg, in)

	t.Run("stable across revisions and prune", func(t *testing.T) {
		st := in
		a := mkSvc("a", webLabels, intstr.FromInt32(9090)) // spec changed: IP kept
		np2 := np.DeepCopy()
		np2.Spec.Ports[0].Port = 8000 // same name: node port kept
		st.Desired = rev("c2", api.Manifests{Services: []corev1.Service{mkSvc("new", webLabels, intstr.FromInt32(1)), a, *np2}})
		r := Plan(cfg, st)
		st = mustApply(t, st, r.Changes)
		if got := svcRecord(st, "a").Spec.ClusterIP; got != "10.96.0.10" {
			t.Fatalf("a moved to %s", got)
		}
		if got := svcRecord(st, "np").Spec.Ports[0].NodePort; got != 30000 {
			t.Fatalf("np node port moved to %d", got)
		}
		// "new" gets the lowest free IP: .12 (.10/.11 held, .50 freed by prune is higher).
		if got := svcRecord(st, "new").Spec.ClusterIP; got != "10.96.0.12" {
			t.Fatalf("new got %s", got)
		}
		if svcRecord(st, "fixed") != nil || svcRecord(st, "ext") != nil || !hasEvent(r.Changes.Events, "Pruned", "") {
			t.Fatalf("not pruned: %+v", st.Services)
		}
		assertQuiet(t, cfg, st)
	})

	t.Run("explicit conflicts are refused", func(t *testing.T) {
		st := in
		steal := mkSvc("thief", webLabels, intstr.FromInt32(1))
		steal.Spec.ClusterIP = "10.96.0.10" // held by a
		stealPort := mkSvc("thief2", webLabels, intstr.FromInt32(1))
		stealPort.Spec.Type = corev1.ServiceTypeNodePort
		stealPort.Spec.Ports[0].NodePort = 30005 // held by np
		st.Desired = rev("c2", api.Manifests{Services: append(append([]corev1.Service(nil), m.Services...), steal, stealPort)})
		r := Plan(cfg, st)
		st = mustApply(t, st, r.Changes)
		if svcRecord(st, "thief") != nil || svcRecord(st, "thief2") != nil {
			t.Fatalf("conflicting service allocated")
		}
		for _, key := range []string{"Service/default/thief", "Service/default/thief2"} {
			s := objStatus(st, key)
			if s.Health != api.Degraded || s.Sync != api.OutOfSync || !contains(s.Message, "already allocated to") {
				t.Fatalf("%s status %+v", key, s)
			}
		}
		if !hasEvent(r.Changes.Events, "AllocationFailed", "10.96.0.10 is already allocated to Service/default/a") {
			t.Fatalf("events %+v", r.Changes.Events)
		}
		if st.Status.Health != api.Degraded || st.Status.Sync != api.OutOfSync {
			t.Fatalf("cluster status %+v", st.Status)
		}
		assertQuiet(t, cfg, st) // the warning is not repeated
	})
}

func TestEndpoints(t *testing.T) {
	cfg := testConfig()
	named := mkSvc("web", webLabels, intstr.FromString("http"))
	named.Spec.Ports = append(named.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9100, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP})
	headless := mkSvc("web-hl", webLabels, intstr.FromInt32(0))
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	ext := corev1.Service{}
	ext.Name, ext.Namespace = "ext", "default"
	ext.Spec.Type, ext.Spec.ExternalName, ext.Spec.Selector = corev1.ServiceTypeExternalName, "db.example.com", webLabels
	withMetrics := mkRC("web", 2, webLabels, "web:1", "")
	withMetrics.Spec.Template.Spec.Containers[0].Ports = append(withMetrics.Spec.Template.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "metrics", ContainerPort: 9000})
	plain := mkRC("other", 1, webLabels, "web:1", "")
	plain.Spec.Selector = map[string]string{"app": "web", "rc": "other"}
	plain.Spec.Template.Labels = map[string]string{"app": "web", "rc": "other"}
	m := api.Manifests{ReplicationControllers: []corev1.ReplicationController{withMetrics, plain}, Services: []corev1.Service{named, headless, ext}}
	in := settle(t, cfg, world(t, cfg, mkNodes(2, 4000), m))

	eps := map[string]api.Endpoints{}
	for _, e := range in.Endpoints {
		eps[e.Name] = e
	}
	if _, ok := eps["ext"]; ok {
		t.Fatalf("ExternalName service got endpoints")
	}
	web := eps["web"]
	var httpN, metricsN int
	for _, e := range web.Ports {
		switch e.ServicePort {
		case "web":
			httpN++
			if e.Port != 8080 || !e.Ready || e.IP == "" || e.Node == "" {
				t.Fatalf("endpoint %+v", e)
			}
		case "metrics":
			metricsN++
			if e.Port != 9000 {
				t.Fatalf("metrics resolved to %d", e.Port)
			}
		}
	}
	// 3 pods serve http; only the 2 with a "metrics" container port serve metrics.
	if httpN != 3 || metricsN != 2 {
		t.Fatalf("http %d metrics %d: %+v", httpN, metricsN, web.Ports)
	}
	if hl := eps["web-hl"]; len(hl.Ports) != 3 || hl.Ports[0].Port != 80 {
		t.Fatalf("headless endpoints %+v", hl)
	}
	if s := svcRecord(in, "web-hl"); s.Spec.ClusterIP != "None" {
		t.Fatalf("headless got IP %s", s.Spec.ClusterIP)
	}

	// A pod turning not ready is kept but marked not ready; a NotReady node's pods too.
	st := in
	st.Pods = append([]api.PodRecord(nil), in.Pods...)
	st.Pods[0].Status.Ready = false
	r := Plan(cfg, st)
	if len(r.Changes.SetEndpoints) != 2 {
		t.Fatalf("set endpoints %+v", r.Changes.SetEndpoints)
	}
	for _, e := range r.Changes.SetEndpoints[0].Ports {
		if e.PodUID == st.Pods[0].UID && e.Ready {
			t.Fatalf("not-ready pod is a ready endpoint")
		}
	}
	assertQuiet(t, cfg, mustApply(t, st, r.Changes))

	st = in
	st.Now = t0.Add(12 * time.Second)
	st.Heartbeats = map[string]time.Time{"n000": st.Now, "n001": t0}
	r = Plan(cfg, st)
	for _, ep := range r.Changes.SetEndpoints {
		for _, e := range ep.Ports {
			if e.Node == "n001" && e.Ready {
				t.Fatalf("endpoint on NotReady node still ready: %+v", e)
			}
		}
	}
}

func TestSyncAndHealth(t *testing.T) {
	cfg := testConfig()
	m := api.Manifests{
		ReplicationControllers: []corev1.ReplicationController{mkRC("web", 2, webLabels, "web:1", "100m"), mkRC("big", 1, map[string]string{"app": "big"}, "big:1", "64")},
		Pods:                   []corev1.Pod{mkPod("db", map[string]string{"app": "db"}, "db:1")},
	}
	in := world(t, cfg, mkNodes(2, 4000), m)
	in = mustApply(t, in, Plan(cfg, in).Changes)
	if s := objStatus(in, rcWeb); s.Sync != api.Synced || s.Health != api.HealthProgressing || s.Desired != 2 || s.Ready != 0 {
		t.Fatalf("web just created: %+v", s)
	}
	in = settle(t, cfg, in)
	if s := objStatus(in, rcWeb); s.Sync != api.Synced || s.Health != api.Healthy || s.Ready != 2 {
		t.Fatalf("web settled: %+v", s)
	}
	if s := objStatus(in, podDB); s.Health != api.Healthy || s.Ready != 1 || s.Desired != 1 {
		t.Fatalf("db: %+v", s)
	}
	if s := objStatus(in, "ReplicationController/default/big"); s.Health != api.Degraded || !contains(s.Message, "unschedulable") {
		t.Fatalf("big: %+v", s)
	}
	if in.Status.Health != api.Degraded || in.Status.AppliedCommit != "c1" || in.Status.Sync != api.Synced {
		t.Fatalf("cluster %+v", in.Status)
	}
	in.Desired = rev("c2", api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 3, webLabels, "web:1", "100m")}})
	in = mustApply(t, in, Plan(cfg, in).Changes)
	if s := objStatus(in, rcWeb); s.Health != api.HealthProgressing || in.Status.AppliedCommit != "c2" {
		t.Fatalf("scaling: %+v %+v", s, in.Status)
	}
	in = settle(t, cfg, in)
	if in.Status.Health != api.Healthy || in.Status.Sync != api.Synced || len(in.ObjectStatus) != 1 {
		t.Fatalf("cluster %+v objects %+v", in.Status, in.ObjectStatus)
	}
}

func TestSimulateAndBatchLimit(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPodsPerBatch = 10
	in := world(t, cfg, mkNodes(5, 64000), api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 35, webLabels, "web:1", "100m")}})
	r := Plan(cfg, in)
	if len(r.Changes.UpsertPods) != 10 {
		t.Fatalf("batch of %d pods, cap 10", len(r.Changes.UpsertPods))
	}
	final, steps, err := Simulate(cfg, in, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(podsOf(final, rcWeb, api.DesireRun)); n != 35 || len(steps) < 4 {
		t.Fatalf("%d pods after %d steps", n, len(steps))
	}
	for _, p := range final.Pods {
		if !p.Status.Ready || p.Status.PodIP == "" {
			t.Fatalf("pod not running %+v", p)
		}
	}
	assertQuiet(t, cfg, final)
}
