package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// TestKubernetesExamples decodes manifests from the Kubernetes project's own examples:
// all of them (downward API env, httpHeaders, securityContext, ...) decode cleanly.
func TestKubernetesExamples(t *testing.T) {
	// Every example in testdata/k8s-examples uses only fields Keelson honors; the
	// field-by-field refusals are tested in decode_test.go.
	want := map[string][]string{}
	files, lerrs := LoadDir("testdata/k8s-examples")
	if len(lerrs) > 0 || len(files) < 9 {
		t.Fatalf("LoadDir: %d files, errors %v", len(files), lerrs)
	}
	for _, f := range files {
		t.Run(f.Path, func(t *testing.T) {
			_, errs := Decode([]File{f})
			got := []string{}
			for _, e := range errs {
				got = append(got, e.Error())
			}
			w := want[f.Path]
			if w == nil {
				w = []string{}
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGuestbookDefaults checks Kubernetes' defaulting on the classic guestbook.
func TestGuestbookDefaults(t *testing.T) {
	files, _ := LoadDir("testdata/k8s-examples")
	m, _ := Decode(files)
	var rc *corev1.ReplicationController
	for i := range m.ReplicationControllers {
		if m.ReplicationControllers[i].Name == "frontend" {
			rc = &m.ReplicationControllers[i]
		}
	}
	if rc == nil {
		t.Fatal("frontend RC not decoded")
	}
	wantSel := map[string]string{"app": "guestbook", "tier": "frontend"}
	if diff := cmp.Diff(wantSel, rc.Spec.Selector); diff != "" {
		t.Errorf("selector defaulted from template labels (-want +got):\n%s", diff)
	}
	spec := rc.Spec.Template.Spec
	if rc.Namespace != "default" || spec.RestartPolicy != corev1.RestartPolicyAlways || *spec.TerminationGracePeriodSeconds != 30 ||
		spec.Containers[0].Ports[0].Protocol != corev1.ProtocolTCP || spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("defaults not applied: ns=%q %+v", rc.Namespace, spec)
	}
	if got := m.Sources["ReplicationController/default/frontend"]; got != (Source{File: "frontend-controller.yaml", Line: 1}) {
		t.Errorf("source = %+v", got)
	}
	for _, s := range m.Services {
		if s.Name == "frontend" && (s.Spec.Ports[0].TargetPort.IntVal != 80 || s.Spec.SessionAffinity != corev1.ServiceAffinityNone) {
			t.Errorf("service defaults not applied: %+v", s.Spec)
		}
	}
}

// TestManifestsExample keeps the example repository valid.
func TestManifestsExample(t *testing.T) {
	files, lerrs := LoadDir("../manifests-example")
	m, errs := Decode(files)
	if len(lerrs)+len(errs) > 0 {
		t.Fatalf("manifests-example is invalid: %v %v", lerrs, errs)
	}
	if len(m.ReplicationControllers) != 2 || len(m.Services) != 2 || len(m.Pods) != 1 {
		t.Fatalf("decoded %d RCs, %d Services, %d Pods; want 2, 2, 1", len(m.ReplicationControllers), len(m.Services), len(m.Pods))
	}
}
