package planview

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keelson/keelson/api"
)

func rc(name string, replicas int32, image string) corev1.ReplicationController {
	labels := map[string]string{"app": name}
	return corev1.ReplicationController{
		ObjectMeta: metaNamed(name),
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas, Selector: labels,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metaLabels(labels),
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: image,
					Env:       []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
				}}},
			},
		},
	}
}

func revision(commit string, rcs ...corev1.ReplicationController) *api.Revision {
	m := api.Manifests{ReplicationControllers: rcs, Sources: map[string]api.Source{}}
	for _, r := range rcs {
		m.Sources[api.Key("ReplicationController", "default", r.Name)] = api.Source{File: r.Name + ".yaml", Line: 1}
	}
	return &api.Revision{Commit: commit, Objects: m}
}

func TestDiffObjectsNamesListElements(t *testing.T) {
	base := rc("web", 2, "web:v1")
	head := rc("web", 2, "web:v1")
	// Insert an env var in front: with index paths every later element would differ.
	head.Spec.Template.Spec.Containers[0].Env = append([]corev1.EnvVar{{Name: "Z", Value: "0"}}, head.Spec.Template.Spec.Containers[0].Env...)
	objs, err := DiffObjects(&revision("a", base).Objects, &revision("b", head).Objects)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || len(objs[0].Fields) != 2 {
		t.Fatalf("objects %+v", objs)
	}
	f := objs[0].Fields
	if f[0].Path != "spec.template.spec.containers[web].env[Z].name" || f[0].New != "Z" || f[1].Path != "spec.template.spec.containers[web].env[Z].value" {
		t.Errorf("fields %+v", f)
	}
}

func TestPreviewConfigIsDeterministic(t *testing.T) {
	a, b := PreviewConfig(), PreviewConfig()
	for range 30 {
		if a.NameSuffix() != b.NameSuffix() || a.NewUID() != b.NewUID() {
			t.Fatal("two preview configs disagree")
		}
	}
	if s := suffix(27*27 + 1); len(s) != 5 || s != "bbcbc" {
		t.Errorf("suffix = %q", s)
	}
}

// TestConsequencesPairRollsWithNewPods scales an RC down while changing its image:
// the report must show rolls (old → new pod) and one plain stop, not stops plus creates.
func TestConsequencesPairRollsWithNewPods(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := PreviewConfig()
	base := revision("a", rc("web", 3, "web:v1"))
	head := revision("b", rc("web", 2, "web:v2"))
	live, err := IdealObserved(cfg, base, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ComputeConsequences(cfg, live, head, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rolled) != 2 || len(c.Stopped) != 1 || len(c.Created) != 0 || len(c.Pending) != 0 {
		t.Fatalf("rolled %d stopped %d created %d pending %d, want 2 1 0 0: %+v", len(c.Rolled), len(c.Stopped), len(c.Created), len(c.Pending), c)
	}
	for _, r := range c.Rolled {
		if r.Replacement == "" || r.Replacement == r.Pod {
			t.Errorf("roll without a new pod: %+v", r)
		}
	}
	// No change: nothing happens.
	same, err := ComputeConsequences(cfg, live, base, false)
	if err != nil {
		t.Fatal(err)
	}
	if !same.Empty() {
		t.Errorf("base → base: %+v", same)
	}
}

func TestMarkdownEscapesUserText(t *testing.T) {
	r := &Report{
		Base:   RevInfo{Ref: "main"},
		Head:   RevInfo{Ref: "pr", Message: "fix | table <b>bold</b>"},
		Errors: []api.FieldError{{Pos: api.Position{File: "a.yaml", Line: 3}, Message: "bad | value"}},
	}
	var b strings.Builder
	if err := r.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<b>") || !strings.Contains(out, `bad \| value`) || !strings.Contains(out, "`a.yaml:3`") {
		t.Errorf("markdown:\n%s", out)
	}
	if r.ExitCode() != ExitInvalid {
		t.Errorf("exit code %d", r.ExitCode())
	}
}

func metaNamed(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default"}
}

func metaLabels(l map[string]string) metav1.ObjectMeta { return metav1.ObjectMeta{Labels: l} }

// A long pod table is folded so a large scale-up does not flood the PR comment; a
// short one stays open.
func TestMarkdownFoldsLongPodTables(t *testing.T) {
	c := &Consequences{Live: true}
	for i := range foldRows + 2 {
		c.Created = append(c.Created, PodChange{Owner: "ReplicationController/default/web", Pod: fmt.Sprintf("web-%d", i), Node: "n1"})
	}
	c.Stopped = []PodChange{{Owner: "ReplicationController/default/old", Pod: "old-1", Node: "n1", Reason: "pruned"}}
	var b strings.Builder
	markdownConsequences(&b, c)
	out := b.String()
	if !strings.Contains(out, "<details><summary><b>Created</b> (12 pods)</summary>") {
		t.Errorf("12 created pods are not folded:\n%s", out)
	}
	if !strings.Contains(out, "**Stopped**\n\n| owner | pod | node | why |") || strings.Contains(out, "<b>Stopped</b>") {
		t.Errorf("1 stopped pod should stay an open table:\n%s", out)
	}
	if n := strings.Count(out, "| `ReplicationController/default/web` |"); n != 12 {
		t.Errorf("folded table has %d rows, want 12", n)
	}
}
