package reconciler

import (
	"strings"
	"testing"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// An RC's name may be a 253-character subdomain; its pods' names become hostnames,
// so they are cut to 63 characters like Kubernetes' generateName.
func TestGeneratedPodNamesFitAHostname(t *testing.T) {
	long := strings.Repeat("a", 56) + "." + strings.Repeat("b", 196) // 253, a '.' at the cut
	for _, tc := range []struct{ rc, prefix string }{
		{"web", "web-"},
		{strings.Repeat("r", 57), strings.Repeat("r", 57) + "-"},
		{strings.Repeat("r", 58), strings.Repeat("r", 57) + "-"},
		{long, strings.Repeat("a", 56) + "-"},
	} {
		cfg := testConfig()
		in := world(t, cfg, mkNodes(1, 4000), api.Manifests{ReplicationControllers: []corev1.ReplicationController{mkRC(tc.rc, 2, webLabels, "web:1", "")}})
		r := Plan(cfg, in)
		if len(r.Changes.UpsertPods) != 2 {
			t.Fatalf("rc of %d chars: %d pods, want 2", len(tc.rc), len(r.Changes.UpsertPods))
		}
		for _, p := range r.Changes.UpsertPods {
			if len(p.Name) > 63 || !strings.HasPrefix(p.Name, tc.prefix) || len(p.Name) != len(tc.prefix)+5 {
				t.Errorf("rc of %d chars: pod name %q (%d chars), want %q + 5 characters", len(tc.rc), p.Name, len(p.Name), tc.prefix)
			}
			if msgs := validation.IsDNS1123Label(p.Name); len(msgs) > 0 {
				t.Errorf("pod name %q is not a DNS label: %v", p.Name, msgs)
			}
		}
	}
}

// Requests that overflow int64 (which validation refuses in Git) still never fit a
// node: two containers of 9.9Ei CPUs used to wrap to -2 CPUs.
func TestOverflowingRequestsDoNotFit(t *testing.T) {
	cfg := testConfig()
	rc := mkRC("web", 1, webLabels, "web:1", "9.9Ei")
	second := container("web:1", "9.9Ei")
	second.Name, second.Ports = "second", nil
	rc.Spec.Template.Spec.Containers = append(rc.Spec.Template.Spec.Containers, second)
	in := world(t, cfg, mkNodes(1, 1000), api.Manifests{ReplicationControllers: []corev1.ReplicationController{rc}})
	r := Plan(cfg, in)
	for _, p := range r.Changes.UpsertPods {
		if p.Node != "" {
			t.Fatalf("pod %s requesting 2 x 9.9Ei CPUs placed on %s", p.Name, p.Node)
		}
		if !contains(p.Status.Message, "1 insufficient cpu") {
			t.Fatalf("pending pod status %+v, want insufficient cpu", p.Status)
		}
	}
}
