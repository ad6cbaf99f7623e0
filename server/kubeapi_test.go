package server

import (
	"strings"
	"testing"
)

// TestKubeAPIMounted checks the Kubernetes-shaped API is on the API port behind the
// read authentication, and that a write needs a credential before it is refused.
func TestKubeAPIMounted(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	for _, tc := range []struct {
		method, path, token string
		want                int
		body                string
	}{
		{"GET", "/api", "", 401, ""},
		{"GET", "/api/v1/pods", "wrong", 403, ""},
		{"GET", "/version", testReadToken, 200, `"gitVersion"`},
		{"GET", "/api", testReadToken, 200, `"APIVersions"`},
		{"GET", "/api/v1", testReadToken, 200, `"APIResourceList"`},
		{"GET", "/apis", testReadToken, 200, `"APIGroupList"`},
		{"GET", "/api/v1/pods", testReadToken, 200, `"PodList"`},
		{"GET", "/api/v1/namespaces/default/pods/nope", testReadToken, 404, `"NotFound"`},
		{"DELETE", "/api/v1/namespaces/default/pods/x", "", 401, ""},
		{"DELETE", "/api/v1/namespaces/default/pods/x", testReadToken, 405, `"MethodNotAllowed"`},
		{"GET", "/openapi/v2", testReadToken, 200, ""},
	} {
		r := do(t, tc.method, l.url+tc.path, tc.token, "")
		if r.code != tc.want || !strings.Contains(r.body, tc.body) {
			t.Errorf("%s %s token %q: %d %s, want %d with %s", tc.method, tc.path, tc.token, r.code, r.body, tc.want, tc.body)
		}
	}
}
