package server

import (
	"context"
	"net/http"
	"net/url"

	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/server/kubeapi"
)

// mountKubeAPI adds the Kubernetes-shaped read API (server/kubeapi) to routes, behind
// the read authentication every read endpoint has. Writes reach it too (with the same
// authentication) and are answered 405 with the Git repository to commit to.
func (s *Server) mountKubeAPI(handle func(pattern string, auth authLevel, h http.HandlerFunc)) {
	h := kubeapi.New(kubeapi.Options{
		Store:  kubeStore{s.store},
		Logs:   s.kubeLogs,
		Logger: s.logger.With("component", "kubeapi"),
	})
	for _, p := range kubeapi.Patterns {
		handle(p, authRead, h.ServeHTTP)
	}
}

// kubeStore gives kubeapi the store through its narrow interface.
type kubeStore struct{ st *raftstore.Store }

func (k kubeStore) Snapshot() kubeapi.State { return k.st.Snapshot() }

func (k kubeStore) WaitIndex(ctx context.Context, after uint64) (uint64, error) {
	return k.st.WaitIndex(ctx, after)
}

// kubeLogs is pods/log through the same proxy as /v1/logs/{namespace}/{pod}.
func (s *Server) kubeLogs(w http.ResponseWriter, r *http.Request, namespace, pod string, query url.Values) {
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = query.Encode()
	r2.SetPathValue("namespace", namespace)
	r2.SetPathValue("pod", pod)
	s.handleLogs(w, r2)
}
