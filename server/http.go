package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/keelson/keelson/api"
)

// routes builds the API. Nothing here writes desired state: the only writes are node
// registration, heartbeats, pod status and membership, all from cluster members. A new
// read route is registered with authRead and so accepts the read token or a reader
// (or server) certificate with no further work.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, auth authLevel, h http.HandlerFunc) {
		mux.Handle(pattern, s.instrument(pattern, s.authorize(auth, h)))
	}
	handle("GET "+api.PathHealth, authNone, s.handleHealth)
	// Metrics name nodes, pods and rates: readers only, like every other read.
	handle("GET "+api.PathMetrics, authRead, s.metrics.handler().ServeHTTP)

	handle("GET "+api.PathStatus, authRead, s.handleStatus)
	handle("GET "+api.PathNodes, authRead, s.handleNodes)
	handle("GET "+api.PathPods, authRead, s.handlePods)
	handle("GET "+api.PathServices, authRead, s.handleServices)
	handle("GET "+api.PathRCs, authRead, s.handleRCs)
	handle("GET "+api.PathEvents, authRead, s.handleEvents)
	handle("GET "+api.PathEndpoints, authRead, s.handleEndpoints)
	handle("GET "+api.PathConfig, authRead, s.handleConfig)
	handle("GET "+api.PathStateHash, authRead, s.handleStateHash)
	handle("GET "+api.PathLogs+"{namespace}/{pod}", authRead, s.handleLogs)
	s.mountKubeAPI(handle) // kubectl and client-go: /api, /apis, /version (server/kubeapi)

	// Trust bootstrap: the CA is public; certificates are handed out for join secrets.
	handle("GET "+api.PathCA, authNone, s.handleCA)
	handle("POST "+api.PathServerCredentials, authServerToken, s.handleServerCredentials)
	handle("POST "+api.PathNodeJoin, authNodeToken, s.handleNodeJoin)

	// Agents, each restricted to its own node (nodeauth.go).
	handle("POST "+api.PathNodeRegister, authNode, s.onLeader(s.handleRegister))
	handle("POST "+api.PathNodeHeartbeat, authNode, s.onLeader(s.handleHeartbeat))
	handle("POST "+api.PathNodeStatus, authNode, s.onLeader(s.handleStatusReport))
	handle("GET "+api.PathNodeView+"{name}", authNode, s.handleNodeView)
	// Raft membership: servers only.
	handle("POST "+api.PathServerJoin, authServer, s.onLeader(s.handleJoin))
	handle("POST "+api.PathServerLeave, authServer, s.onLeader(s.handleLeave))

	// The webhook checks its own HMAC signature; it only triggers a fetch.
	handle("POST "+api.PathGitHook, authNone, s.handleGitHook)

	if s.deps.Web != nil { // the page checks the read credential through the read API itself: a browser sends no bearer header
		handle("/ui/", authNone, s.deps.Web(mux, s.store).ServeHTTP)
		mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusSeeOther))
	}

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// statusRecorder remembers the response code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming (logs) working through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.metrics.httpRequests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		s.metrics.httpSeconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, api.ErrorResponse{Error: msg})
}

// decodeBody reads a JSON request body (at most 32 MiB), rejecting unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 32<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func uintStr(n uint64) string { return strconv.FormatUint(n, 10) }
