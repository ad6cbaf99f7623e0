package api

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeErrors decodes one file named t.yaml and returns its errors as printed.
func decodeErrors(t *testing.T, src string) []string {
	t.Helper()
	_, errs := Decode([]File{{Path: "t.yaml", Data: []byte(src)}})
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

const validPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx:1.25
`

func TestDecodeStrict(t *testing.T) {
	tests := []errorCase{
		{"valid pod", validPod, nil},
		{"unknown field", validPod + "    colour: red\n",
			[]string{`t.yaml:9:5: Pod/web: spec.containers[0].colour: unknown field`}},
		{"wrong case key", `apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicAs: 3
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`, []string{`t.yaml:5:3: ReplicationController/web: spec.replicAs: unknown field (did you mean "replicas"?)`}},
		{"duplicate key", `apiVersion: v1
kind: Pod
metadata:
  name: web
  name: web2
spec: {containers: [{name: web, image: nginx}]}
`, []string{`t.yaml:5:3: Pod/web: metadata.name: duplicate key, first defined at line 4`}},
		{"number for string", validPod + "    env:\n    - name: PORT\n      value: 8080\n",
			[]string{`t.yaml:11:7: Pod/web: spec.containers[0].env[0].value: expected a string, got a number: quote it ("8080")`}},
		{"string for integer", validPod + "    ports:\n    - containerPort: http\n",
			[]string{`t.yaml:10:7: Pod/web: spec.containers[0].ports[0].containerPort: expected an integer, got a string`}},
		{"list for mapping", "apiVersion: v1\nkind: Pod\nmetadata: [web]\n",
			[]string{`t.yaml:3:1: Pod: metadata: expected a mapping, got a list`}},
		{"integer out of range", validPod + "    ports:\n    - containerPort: 99999999999\n",
			[]string{`t.yaml:10:7: Pod/web: spec.containers[0].ports[0].containerPort: 99999999999 is out of range [-2147483648, 2147483647]`}},
		{"bad quantity", validPod + "    resources:\n      requests:\n        cpu: lots\n",
			[]string{`t.yaml:11:9: Pod/web: spec.containers[0].resources.requests[cpu]: invalid quantity "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`}},
		{"unsupported apiVersion", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n", []string{
			`t.yaml:1:1: Deployment/d: apiVersion: unsupported apiVersion "apps/v1": Keelson reads v1 objects only`,
			`t.yaml:2:1: Deployment/d: kind: unsupported kind "Deployment": Keelson reads Pod, Service, ReplicationController and List`,
		}},
		{"missing kind", "apiVersion: v1\nmetadata: {name: x}\n", []string{`t.yaml:1:1: kind: required value`}},
		{"not a mapping", "- a\n- b\n", []string{`t.yaml:1:1: a manifest must be a mapping with apiVersion and kind`}},
		{"syntax error", "apiVersion: v1\nkind: Pod\n  bad: indent\n", []string{`t.yaml:3: invalid YAML: mapping values are not allowed in this context`}},
		{"not supported field", validPod + "    securityContext:\n      seLinuxOptions: {level: s0, user: u}\n",
			[]string{`t.yaml:10:24: Pod/web: spec.containers[0].securityContext.seLinuxOptions: not supported by Keelson (see docs/fields.md)`}},
		{"one error per unsupported subtree", validPod + "  ephemeralContainers:\n  - name: debug\n    image: busybox\n    args: [a, b, c, d, e, f]\n  - name: debug2\n    image: busybox\n",
			[]string{`t.yaml:10:5: Pod/web: spec.ephemeralContainers: not supported by Keelson (see docs/fields.md)`}},
		{"unsupported value", validPod + "    ports:\n    - containerPort: 80\n      protocol: SCTP\n",
			[]string{`t.yaml:11:7: Pod/web: spec.containers[0].ports[0].protocol: value "SCTP" is not supported by Keelson (supported: "TCP", "UDP"; see docs/fields.md)`}},
		{"secretKeyRef not supported", validPod + "    env:\n    - name: A\n      valueFrom:\n        secretKeyRef: {name: s, key: k}\n",
			[]string{`t.yaml:12:24: Pod/web: spec.containers[0].env[0].valueFrom.secretKeyRef: not supported by Keelson (see docs/fields.md)`}},
		{"resource other than cpu and memory", validPod + "    resources:\n      limits: {nvidia.com/gpu: 1}\n",
			[]string{`t.yaml:10:16: Pod/web: spec.containers[0].resources.limits[nvidia.com/gpu]: not supported by Keelson (see docs/fields.md)`}},
		{"harmless kubectl output", `apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  name: web
spec:
  containers:
  - image: nginx
    name: web
    resources: {}
    terminationMessagePath: /dev/termination-log
  dnsPolicy: ClusterFirst
  securityContext: {}
status: {}
`, nil},
		{"pod securityContext sysctls", validPod + "  securityContext:\n    sysctls: [{name: net.core.somaxconn, value: \"1024\"}]\n",
			[]string{`t.yaml:10:16: Pod/web: spec.securityContext.sysctls: not supported by Keelson (see docs/fields.md)`}},
		{"json", `{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "web", "annotations": {"url": "http:\/\/x"}},
 "spec": {"containers": [{"name": "web", "image": "nginx", "tty": true}]}}`,
			[]string{`t.yaml:3:60: Pod/web: spec.containers[0].tty: not supported by Keelson (see docs/fields.md)`}},
		{"yaml 1.1 boolean", validPod + "    volumeMounts: [{name: v, mountPath: /v, readOnly: yes}]\n  volumes: [{name: v}]\n", nil},
		{"anchors and merge keys", `x-common: &common
  image: nginx
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - <<: *common
    name: web
`, []string{`t.yaml:1:1: Pod/web: x-common: unknown field`}},
		{"merge keys", `apiVersion: v1
kind: List
items:
- &pod
  apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec: {containers: [{name: web, image: nginx}]}
- <<: *pod
  metadata: {name: b}
`, nil},
	}
	checkErrorCases(t, tests)
}

func TestDecodeMultiDocumentAndList(t *testing.T) {
	src := `# leading comment
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: b}
  spec: {containers: [{name: web, image: nginx}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec: {containers: [{name: web, image: nginx}]}
`
	m, errs := Decode([]File{{Path: "t.yaml", Data: []byte(src)}})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(m.Pods) != 2 || m.Pods[0].Name != "a" || m.Pods[1].Name != "b" || len(m.Services) != 1 {
		t.Fatalf("decoded %d pods %d services", len(m.Pods), len(m.Services))
	}
	want := map[string]Source{
		"Service/shop/web": {File: "t.yaml", Line: 3},
		"Pod/default/b":    {File: "t.yaml", Line: 14},
		"Pod/default/a":    {File: "t.yaml", Line: 18},
	}
	if diff := cmp.Diff(want, m.Sources); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
}

func TestDecodeCollectsAllFiles(t *testing.T) {
	_, errs := Decode([]File{
		{Path: "a.yaml", Data: []byte(validPod + "    colour: red\n")},
		{Path: "b.yaml", Data: []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: web}]}\n")},
	})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`a.yaml:9:5: Pod/web: spec.containers[0].colour: unknown field`,
		`b.yaml:4:21: Pod/b: spec.containers[0].image: required value`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestDecodeHostileInput(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		prev := string(rune(n[0] - 1))
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
	}
	bomb += "apiVersion: v1\nkind: Pod\nmetadata:\n  managedFields: [{fieldsV1: *h}]\n"
	tests := []struct {
		name, src, want string
	}{
		{"alias bomb", bomb, "file expands to more than"},
		{"deep nesting", strings.Repeat("[", 200) + strings.Repeat("]", 200), "deeper than 64 levels"},
		{"deep mapping", "apiVersion: v1\nkind: Pod\nmetadata:\n  labels: " + strings.Repeat("{a: ", 100) + "b" + strings.Repeat("}", 100), "deeper than 64 levels"},
		{"not utf-8", "apiVersion: v1\nkind: Pod\nmetadata: {name: \xff}\n", "file is not valid UTF-8"},
		{"huge", strings.Repeat("#", MaxFileSize+1), "larger than the 4194304 bytes limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeErrors(t, tt.src)
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("errors %q, want one containing %q", got, tt.want)
			}
		})
	}
}

func TestPullPolicyFor(t *testing.T) {
	for image, want := range map[string]string{
		"nginx":                         "Always",
		"nginx:latest":                  "Always",
		"nginx:1.25":                    "IfNotPresent",
		"127.0.0.1:5000/keelson/web":    "Always",
		"127.0.0.1:5000/keelson/web:v1": "IfNotPresent",
		"nginx@sha256:0123456789abcdef": "IfNotPresent",
	} {
		if got := pullPolicyFor(image); string(got) != want {
			t.Errorf("pullPolicyFor(%q) = %s, want %s", image, got, want)
		}
	}
}

// errorCase is one manifest and the exact errors (file:line:col included) it must get;
// nil want means valid.
type errorCase struct {
	name, src string
	want      []string
}

func checkErrorCases(t *testing.T, tests []errorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeErrors(t, tt.src)
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
