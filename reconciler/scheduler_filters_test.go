package reconciler

import (
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlacementFilters(t *testing.T) {
	ssd := mkNode("n1", 4000, map[string]string{"disk": "ssd", "cores": "8"})
	tainted := mkNode("n2", 4000, map[string]string{"disk": "hdd", "cores": "2"})
	tainted.Taints = []api.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	soft := mkNode("n3", 4000, nil)
	soft.Taints = []api.Taint{{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule}}
	affinity := func(exprs ...corev1.NodeSelectorRequirement) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: exprs}}}}}
	}
	tests := []struct {
		name string
		node api.Node
		spec corev1.PodSpec
		want string
	}{
		{"no constraints", ssd, corev1.PodSpec{}, ""},
		{"nodeName matches", ssd, corev1.PodSpec{NodeName: "n1"}, ""},
		{"nodeName elsewhere", ssd, corev1.PodSpec{NodeName: "n9"}, "not the pod's nodeName n9"},
		{"untolerated NoSchedule", tainted, corev1.PodSpec{}, "with untolerated taint {dedicated: NoSchedule}"},
		{"tolerated by Equal", tainted, corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}}}, ""},
		{"wrong value", tainted, corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web"}}}, "with untolerated taint {dedicated: NoSchedule}"},
		{"tolerated by Exists without key", tainted, corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}, ""},
		{"PreferNoSchedule never blocks", soft, corev1.PodSpec{}, ""},
		{"affinity In", ssd, corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorRequirement{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd", "nvme"}})}, ""},
		{"affinity NotIn", ssd, corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorRequirement{Key: "disk", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"ssd"}})}, "not matching required node affinity"},
		{"affinity Gt", tainted, corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Affinity: affinity(corev1.NodeSelectorRequirement{Key: "cores", Operator: corev1.NodeSelectorOpGt, Values: []string{"4"}})}, "not matching required node affinity"},
		{"affinity DoesNotExist", ssd, corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorRequirement{Key: "gpu", Operator: corev1.NodeSelectorOpDoesNotExist})}, ""},
		{"affinity all expressions", ssd, corev1.PodSpec{Affinity: affinity(
			corev1.NodeSelectorRequirement{Key: "disk", Operator: corev1.NodeSelectorOpExists},
			corev1.NodeSelectorRequirement{Key: "cores", Operator: corev1.NodeSelectorOpLt, Values: []string{"4"}})}, "not matching required node affinity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := placementInfeasible(&tc.node, &tc.spec); got != tc.want {
				t.Errorf("placementInfeasible = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNoExecuteEviction(t *testing.T) {
	now := t0
	secs := func(s int64) *int64 { return &s }
	node := func(added time.Time) api.Node {
		n := mkNode("n1", 4000, nil)
		n.RegisteredAt = now.Add(-time.Hour)
		n.Taints = []api.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}, {Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}
		if !added.IsZero() {
			n.Taints[0].TimeAdded = &metav1.Time{Time: added}
		}
		return n
	}
	exists := corev1.Toleration{Key: "maintenance", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
	withSecs := func(s int64) corev1.Toleration { t := exists; t.TolerationSeconds = secs(s); return t }
	tests := []struct {
		name  string
		node  api.Node
		tols  []corev1.Toleration
		evict bool
	}{
		{"untolerated", node(time.Time{}), nil, true},
		{"tolerated forever", node(time.Time{}), []corev1.Toleration{exists}, false},
		{"NoSchedule taints do not evict", node(time.Time{}), []corev1.Toleration{exists}, false},
		{"within tolerationSeconds", node(now.Add(-10 * time.Second)), []corev1.Toleration{withSecs(60)}, false},
		{"past tolerationSeconds", node(now.Add(-61 * time.Second)), []corev1.Toleration{withSecs(60)}, true},
		{"longest toleration wins", node(now.Add(-61 * time.Second)), []corev1.Toleration{withSecs(60), withSecs(300)}, false},
		{"forever beats seconds", node(now.Add(-61 * time.Second)), []corev1.Toleration{withSecs(60), exists}, false},
		{"no TimeAdded counts from registration", node(time.Time{}), []corev1.Toleration{withSecs(60)}, true},
		{"zero seconds evicts at once", node(now), []corev1.Toleration{withSecs(0)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evict, why := noExecuteEviction(&tc.node, tc.tols, now)
			if evict != tc.evict {
				t.Errorf("evict = %v (%s), want %v", evict, why, tc.evict)
			}
			if evict && why == "" {
				t.Error("an eviction without a reason")
			}
		})
	}
}

// Through Plan: a pinned pod waits for its node; pods avoid a tainted node; a
// NoExecute taint evicts a running bare pod, which is then placed elsewhere.
func TestPlacementThroughPlan(t *testing.T) {
	cfg := testConfig()
	pinned := mkPod("pinned", webLabels, "web:1")
	pinned.Spec.NodeName = "n9"
	free := mkPod("free", webLabels, "web:1")
	nodes := []api.Node{mkNode("n000", 4000, nil), mkNode("n001", 4000, nil)}
	nodes[0].Taints = []api.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}
	in := world(t, cfg, nodes, api.Manifests{Pods: []corev1.Pod{pinned, free}})
	out := settle(t, cfg, in)
	for _, p := range out.Pods {
		switch p.Name {
		case "pinned":
			if p.Node != "" || p.Status.Reason != "Unschedulable" || !contains(p.Status.Message, "2 not the pod's nodeName n9") {
				t.Errorf("pinned pod %s %+v", p.Node, p.Status)
			}
		case "free":
			if p.Node != "n001" {
				t.Errorf("free pod placed on %q, want the untainted n001", p.Node)
			}
		}
	}

	// n001 is tainted NoExecute (the agent re-registered): the pod is evicted and,
	// with n000 now tolerable by nothing either, stays Pending with the reason.
	for i := range out.Nodes {
		if out.Nodes[i].Name == "n001" {
			out.Nodes[i].Taints = []api.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}}
		}
	}
	r := Plan(cfg, out)
	if !hasEvent(r.Changes.Events, "TaintManagerEviction", "maintenance") {
		t.Fatalf("no eviction event: %+v", r.Changes.Events)
	}
	applied, err := Apply(out, r.Changes)
	if err != nil {
		t.Fatal(err)
	}
	out = settle(t, cfg, applied)
	for _, p := range out.Pods {
		if p.Name == "free" && p.Desire == api.DesireRun {
			if p.Node != "" || !contains(p.Status.Message, "untolerated taint") {
				t.Errorf("replacement of the evicted pod: node %q status %+v", p.Node, p.Status)
			}
		}
	}
}

// MaxPodsPerNode is a hard cap, like the kubelet's --max-pods: past it the pods stay
// Pending with the reason, even with CPU to spare, and the default is Kubernetes' 110.
func TestMaxPodsPerNode(t *testing.T) {
	if d := DefaultConfig().withDefaults(); d.MaxPodsPerNode != 110 {
		t.Fatalf("default MaxPodsPerNode %d, want 110", d.MaxPodsPerNode)
	}
	cfg := testConfig()
	cfg.MaxPodsPerNode = 3
	nodes := []api.Node{mkNode("n000", 64000, nil), mkNode("n001", 64000, nil)}
	in := world(t, cfg, nodes, api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC("web", 8, webLabels, "web:1", "10m")}})
	out := settle(t, cfg, in)
	perNode := map[string]int{}
	pending := 0
	for _, p := range out.Pods {
		switch {
		case p.Desire != api.DesireRun:
		case p.Node == "":
			pending++
			if p.Status.Reason != api.ReasonUnschedulable || !contains(p.Status.Message, "too many pods") {
				t.Errorf("pending pod %s: %+v, want Unschedulable naming too many pods", p.Name, p.Status)
			}
		default:
			perNode[p.Node]++
		}
	}
	if perNode["n000"] != 3 || perNode["n001"] != 3 || pending != 2 {
		t.Fatalf("placed %v with %d pending; want 3 per node and 2 pending", perNode, pending)
	}
}
