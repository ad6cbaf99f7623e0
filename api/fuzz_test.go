package api

import "testing"

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic or hang, and
// every problem it reports must be located in the file it was given.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: b}]}\n",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n  spec: {ports: [{port: 80}]}\n",
		"apiVersion: v1\nkind: ReplicationController\nmetadata: {name: r}\nspec:\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: i, resources: {requests: {cpu: 1}}}]\n",
		`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a\/b"}}`,
		"a: &a [*a, *a]\nb: &b [*a, *a]\nc: [*b, *b]\n",
		"x: &x {a: 1}\napiVersion: v1\nkind: Pod\nmetadata:\n  <<: *x\n",
		"---\n---\n[[[[]]]]\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, errs := Decode([]File{{Path: "f.yaml", Data: data}})
		for _, e := range errs {
			if e.Pos.File != "f.yaml" || e.Message == "" {
				t.Fatalf("bad error %#v", e)
			}
		}
	})
}
