package kubeapi

import (
	"net/http"
	"runtime"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
)

// The Kubernetes release whose API this one mirrors (the k8s.io modules' release), so
// kubectl's version-skew warning stays quiet for current clients.
const (
	kubeMajor   = "1"
	kubeMinor   = "31"
	kubeVersion = "v1.31.4-keelson"
)

// readVerbs are the only verbs discovery advertises: kubectl then knows, before trying,
// that nothing here can be created, patched or deleted.
var readVerbs = metav1.Verbs{"get", "list", "watch"}

func versionInfo() version.Info {
	return version.Info{
		Major: kubeMajor, Minor: kubeMinor, GitVersion: kubeVersion, GoVersion: runtime.Version(),
		Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// apiVersions is /api. Aggregated discovery (Accept ...;as=APIGroupDiscoveryList) is
// not served: clients, kubectl 1.32 included, fall back to these legacy documents
// when the answer's Content-Type is plain JSON.
func apiVersions(r *http.Request) *metav1.APIVersions {
	return &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
		},
	}
}

// apiGroups is /apis: no named groups (events and endpoints are served by core/v1).
func apiGroups() *metav1.APIGroupList {
	return &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
}

// coreResources is /api/v1: every resource served, with its read verbs, and the
// subresources kubectl looks for (pods/log).
func coreResources() *metav1.APIResourceList {
	out := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "v1"}
	for _, res := range resources {
		out.APIResources = append(out.APIResources, metav1.APIResource{
			Name: res.name, SingularName: res.singular, Namespaced: res.namespaced, Kind: res.kind,
			Verbs: readVerbs, ShortNames: res.shortNames, Categories: res.categories,
		})
	}
	out.APIResources = append(out.APIResources, metav1.APIResource{
		Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get"},
	})
	return out
}
