package api

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestLimitErrors(t *testing.T) {
	checkErrorCases(t, []errorCase{
		{"replicas per RC", rc("  replicas: 1000000000\n  selector: {app: web}\n" + rcTemplate), []string{
			`t.yaml:6:3: ReplicationController/web: spec.replicas: invalid value 1000000000: must be at most 50000, the limit for one ReplicationController`}},
		{"replicas at the cap", rc("  replicas: 50000\n  selector: {app: web}\n" + rcTemplate), nil},
		{"cpu that overflows int64", pod("web", "    resources:\n      requests: {cpu: 9.9Ei}\n", ""), []string{
			`t.yaml:10:18: Pod/web: spec.containers[0].resources.requests[cpu]: quantity too large: must be at most 100k CPUs`}},
		{"memory limit", pod("web", "    resources:\n      limits: {memory: 2Pi}\n", ""), []string{
			`t.yaml:10:16: Pod/web: spec.containers[0].resources.limits[memory]: quantity too large: must be at most 1Pi bytes`}},
		{"cpu in an RC template, two containers", rc("  selector: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - {name: a, image: nginx, resources: {requests: {cpu: 1e30}}}\n      - {name: b, image: nginx, resources: {requests: {cpu: 9.9Ei}}}\n"), []string{
			`t.yaml:12:56: ReplicationController/web: spec.template.spec.containers[0].resources.requests[cpu]: quantity too large: must be at most 100k CPUs`,
			`t.yaml:13:56: ReplicationController/web: spec.template.spec.containers[1].resources.requests[cpu]: quantity too large: must be at most 100k CPUs`}},
		{"largest quantities accepted", pod("web", "    resources:\n      requests: {cpu: 100000, memory: 1Pi}\n", ""), nil},
	})
}

// rcNamed is an RC manifest with a name and replica count.
func rcNamed(name string, replicas int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n  selector: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n      containers: [{name: web, image: nginx}]\n", name, replicas, name, name)
}

func TestPodsPerRevision(t *testing.T) {
	// Three RCs of 50,000 reach the limit exactly; one bare pod more passes it.
	files := []File{
		{Path: "a.yaml", Data: []byte(rcNamed("a", 50000))},
		{Path: "b.yaml", Data: []byte(rcNamed("b", 50000) + "---\n" + rcNamed("c", 50000))},
	}
	if _, errs := Decode(files); len(errs) != 0 {
		t.Fatalf("150,000 pods refused: %v", errs)
	}
	files = append(files, File{Path: "c.yaml", Data: []byte(pod("extra", "", ""))})
	_, errs := Decode(files)
	want := []string{`c.yaml:4:3: Pod/extra: metadata.name: the revision declares more than 150000 pods (bare Pods plus replicas), the limit for a revision`}
	if diff := cmp.Diff(want, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestObjectsPerRevision(t *testing.T) {
	// With a cap of 5 objects, the sixth (in file order) is the one reported.
	var files []File
	for f := range 2 {
		var b strings.Builder
		for i := range 3 {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: s%d-%d}\nspec: {ports: [{port: 80}]}\n", f, i)
		}
		files = append(files, File{Path: fmt.Sprintf("svc%d.yaml", f), Data: []byte(b.String())})
	}
	small := defaultCaps
	small.maxObjects = 5
	_, errs := decodeLimited(files, small)
	want := []string{`svc1.yaml:14:12: Service/s1-2: metadata.name: the revision has more than 5 objects, the limit for a revision`}
	if diff := cmp.Diff(want, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if _, errs := decodeLimited(files[:1], small); len(errs) != 0 {
		t.Errorf("3 objects under a cap of 5: %v", errs)
	}
}

func TestRevisionBytes(t *testing.T) {
	// The default limit: nine files over the per-file limit (refused without being
	// parsed) pass 32 MiB at the eighth; it and the ones after it are not decoded (the
	// last is invalid YAML and must not be reported).
	big := []byte(strings.Repeat("x", MaxFileSize+1))
	var files []File
	var want []string
	for i := range 9 {
		files = append(files, File{Path: fmt.Sprintf("f%d.yaml", i), Data: big})
		if i < 7 {
			want = append(want, fmt.Sprintf("f%d.yaml: file is %d bytes, larger than the %d bytes limit", i, MaxFileSize+1, MaxFileSize))
		}
	}
	files = append(files, File{Path: "g.yaml", Data: []byte("{")})
	want = append(want, fmt.Sprintf("f7.yaml: the revision's manifest files exceed the %d bytes limit for a revision; this file and the ones after it are not read", MaxRevisionBytes))
	_, errs := Decode(files)
	if diff := cmp.Diff(want, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestAddSaturating(t *testing.T) {
	for _, tt := range []struct{ a, b, want int64 }{
		{1, 2, 3},
		{math.MaxInt64, 1, math.MaxInt64},
		{math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64},
		{math.MinInt64, -1, math.MinInt64},
		{math.MaxInt64, math.MinInt64, -1},
	} {
		if got := AddSaturating(tt.a, tt.b); got != tt.want {
			t.Errorf("AddSaturating(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	r := Resources{MilliCPU: math.MaxInt64 - 5, MemoryBytes: 1}.Add(Resources{MilliCPU: 10, MemoryBytes: 2})
	if r.MilliCPU != math.MaxInt64 || r.MemoryBytes != 3 {
		t.Errorf("Resources.Add = %+v, want saturated CPU and 3 bytes", r)
	}
}

func errorStrings(errs []FieldError) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestQuantitySaturates(t *testing.T) {
	for _, tt := range []struct {
		q           string
		milli, unit int64
	}{
		{"500m", 500, 1},
		{"2", 2000, 2},
		{"1Pi", 1 << 50 * 1000, 1 << 50},
		{"9.9Ei", math.MaxInt64, math.MaxInt64},
		{"1e30", math.MaxInt64, math.MaxInt64},
		{"-1e30", math.MinInt64, math.MinInt64},
		{"9.3e15", math.MaxInt64, 9.3e15},
	} {
		q := resource.MustParse(tt.q)
		if got := QuantityMilli(q); got != tt.milli {
			t.Errorf("QuantityMilli(%s) = %d, want %d", tt.q, got, tt.milli)
		}
		if got := QuantityValue(q); got != tt.unit {
			t.Errorf("QuantityValue(%s) = %d, want %d", tt.q, got, tt.unit)
		}
	}
}
