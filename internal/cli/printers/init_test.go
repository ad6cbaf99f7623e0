package printers

import (
	"strings"
	"testing"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// Init containers show as kubectl shows them: Init:N/M in STATUS while they run, and
// their own section in describe.
func TestInitContainersShown(t *testing.T) {
	p := &api.PodRecord{Name: "web", Namespace: "default", Node: "n1", Desire: api.DesireRun,
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "setup", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "app", Image: "web"}},
		},
		Status: api.PodStatus{Phase: corev1.PodPending, Reason: "Init:0/1",
			InitContainers: []api.ContainerStatus{{Name: "setup", State: api.ContainerRunning}},
			Containers:     []api.ContainerStatus{{Name: "app", State: api.ContainerWaiting, Reason: "ContainerCreating"}}},
	}
	if got := PodStatusText(p); got != "Init:0/1" {
		t.Errorf("status %q, want Init:0/1", got)
	}
	var b strings.Builder
	if err := DescribePod(&b, p, api.Source{}, nil, Options{}, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	i, c := strings.Index(out, "Init Containers:"), strings.Index(out, "\nContainers:")
	if i < 0 || c < i || !strings.Contains(out[i:c], "setup") || !strings.Contains(out[i:c], "Running") {
		t.Errorf("describe lacks an Init Containers section before Containers:\n%s", out)
	}
}
