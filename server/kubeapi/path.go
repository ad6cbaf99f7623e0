package kubeapi

import (
	"fmt"
	"strings"
)

// request is a parsed /api/v1/... path.
type request struct {
	namespace   string // "" for cluster-wide lists and cluster-scoped objects
	resource    string // plural: pods, services, ...
	name        string // "" for a list
	subresource string // log, exec, scale, ...
}

// parsePath reads what follows /api/v1/:
//
//	{resource}[/{name}[/{sub}]]
//	namespaces/{ns}/{resource}[/{name}[/{sub}]]
//	namespaces[/{name}]
func parsePath(rest string) (request, error) {
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if p == "" {
			return request{}, fmt.Errorf("empty path segment in /api/v1/%s", rest)
		}
	}
	var r request
	if parts[0] == "namespaces" && len(parts) >= 3 {
		r.namespace, parts = parts[1], parts[2:]
	}
	if len(parts) > 3 {
		return request{}, fmt.Errorf("the server could not find the requested resource /api/v1/%s", rest)
	}
	r.resource = parts[0]
	if len(parts) > 1 {
		r.name = parts[1]
	}
	if len(parts) > 2 {
		r.subresource = parts[2]
	}
	return r, nil
}
