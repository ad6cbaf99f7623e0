// Package kubeapi serves the Kubernetes-shaped read API on the server's API port, so
// kubectl, client-go informers, k9s and Lens can look at a Keelson cluster: discovery,
// get/list/watch of core/v1 objects built from the replicated store, server-side
// Tables, pods/log, and a Status 405 naming the Git repository for every write.
//
// It reads the store through the narrow Store interface below and renders with the
// same display rules as the CLI (internal/printers), so `kubectl get` and
// `keelson get` agree.
package kubeapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
)

// State is one consistent read-only view of the replicated state (raftstore.State).
type State interface {
	// Index is the raft index the view reflects; TableIndex the index at which one
	// table last changed ("pods", "nodes", "services", "endpoints", "events", "meta",
	// "objects").
	Index() uint64
	TableIndex(name string) uint64
	Pods() []api.PodRecord
	PodsByOwner(owner string) []api.PodRecord
	Nodes() []api.Node
	Services() []api.ServiceRecord
	Endpoints() []api.Endpoints
	Events(sinceSeq uint64, limit int) []api.Event
	Revision() *api.Revision
	ObjectStatus() []api.ObjectStatus
	Source() api.SourceStatus
}

// Store is what the API needs of the replicated store: views, and a blocking wait for
// the next applied index (watches are driven by it, never by polling).
type Store interface {
	Snapshot() State
	WaitIndex(ctx context.Context, after uint64) (uint64, error)
}

// LogFunc streams a pod's log to w. query uses the Keelson log API's parameters
// (container, follow, tail); it answers errors itself as the Keelson API does.
type LogFunc func(w http.ResponseWriter, r *http.Request, namespace, pod string, query url.Values)

// Options wires a Handler.
type Options struct {
	Store  Store
	Logs   LogFunc
	Logger *slog.Logger
	// Now is the clock for ages in Tables; nil: time.Now.
	Now func() time.Time
	// MaxWatch caps a watch's duration (timeoutSeconds may ask for less); 0: 30 minutes.
	MaxWatch time.Duration
}

// Patterns are the ServeMux patterns the Handler answers (every method: writes are
// answered 405 here, with the Git message, rather than by the mux).
var Patterns = []string{"/api", "/api/", "/apis", "/apis/", "/version", "/version/", "/openapi/"}

// Handler is the Kubernetes read API.
type Handler struct {
	store    Store
	logs     LogFunc
	logger   *slog.Logger
	now      func() time.Time
	maxWatch time.Duration
	history  *history
}

// New builds the handler.
func New(o Options) *Handler {
	h := &Handler{store: o.Store, logs: o.Logs, logger: o.Logger, now: o.Now, maxWatch: o.MaxWatch, history: newHistory()}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxWatch <= 0 {
		h.maxWatch = 30 * time.Minute
	}
	return h
}

// ServeHTTP routes by path: discovery, then resources.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.refuseWrite(w, r)
		return
	}
	if strings.HasPrefix(p, "/openapi/") {
		serveOpenAPI(w, r)
		return
	}
	switch p {
	case "/version":
		writeJSON(w, versionInfo())
		return
	case "/api":
		writeObject(w, http.StatusOK, apiVersions(r))
		return
	case "/api/v1":
		writeObject(w, http.StatusOK, coreResources())
		return
	case "/apis":
		writeObject(w, http.StatusOK, apiGroups())
		return
	}
	if rest, ok := strings.CutPrefix(p, "/api/v1/"); ok {
		req, err := parsePath(rest)
		if err != nil {
			writeStatus(w, notFound(err.Error()))
			return
		}
		h.serveResource(w, r, req)
		return
	}
	writeStatus(w, notFound("the server could not find the requested resource"))
}
