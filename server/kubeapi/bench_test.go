package kubeapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// BenchmarkListPages100k is the server side of `kubectl get pods -A` at 100,000 pods:
// every page of 500 as a Table, following continue tokens (one op = the whole list).
func BenchmarkListPages100k(b *testing.B) {
	st := exampleState()
	st.pods = nil
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}}
	for i := range 100_000 {
		st.pods = append(st.pods, api.PodRecord{UID: fmt.Sprintf("u%06d", i), Namespace: "default", Name: fmt.Sprintf("app-%06d", i),
			Owner: "ReplicationController/default/web", Labels: map[string]string{"app": "web"}, Spec: spec, Node: "n1",
			Desire: api.DesireRun, Status: api.PodStatus{Phase: corev1.PodRunning, Ready: true, PodIP: "10.0.0.1"}})
	}
	srv := serve(b, newFakeStore(st), nil)
	b.ResetTimer()
	for range b.N {
		cont := ""
		for {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/pods?limit=500&continue="+cont, nil)
			req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page struct {
				Metadata struct{ Continue string } `json:"metadata"`
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := json.Unmarshal(body, &page); err != nil {
				b.Fatal(err)
			}
			if cont = page.Metadata.Continue; cont == "" {
				break
			}
		}
	}
}
