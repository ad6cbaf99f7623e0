package server

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
)

// routes builds the API. Nothing here writes desired state: the only writes are node
// registration, heartbeats, pod status and membership, all from cluster members.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, auth authLevel, h http.HandlerFunc) {
		mux.Handle(pattern, s.instrument(pattern, s.authorize(auth, h)))
	}
	handle("GET "+api.PathHealth, authNone, s.handleHealth)
	mux.Handle("GET "+api.PathMetrics, s.metrics.handler())

	handle("GET "+api.PathStatus, authRead, s.handleStatus)
	handle("GET "+api.PathNodes, authRead, s.handleNodes)
	handle("GET "+api.PathPods, authRead, s.handlePods)
	handle("GET "+api.PathServices, authRead, s.handleServices)
	handle("GET "+api.PathRCs, authRead, s.handleRCs)
	handle("GET "+api.PathEvents, authRead, s.handleEvents)
	handle("GET "+api.PathEndpoints, authRead, s.handleEndpoints)
	handle("GET "+api.PathConfig, authRead, s.handleConfig)
	handle("GET "+api.PathLogs+"{namespace}/{pod}", authRead, s.handleLogs)
	s.mountKubeAPI(handle) // kubectl and client-go: /api, /apis, /version (server/kubeapi)

	handle("POST "+api.PathNodeRegister, authCluster, s.onLeader(s.handleRegister))
	handle("POST "+api.PathNodeHeartbeat, authCluster, s.onLeader(s.handleHeartbeat))
	handle("POST "+api.PathNodeStatus, authCluster, s.onLeader(s.handleStatusReport))
	handle("GET "+api.PathNodeView+"{name}", authCluster, s.handleNodeView)
	handle("POST "+api.PathServerJoin, authCluster, s.onLeader(s.handleJoin))
	handle("POST "+api.PathServerLeave, authCluster, s.onLeader(s.handleLeave))

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

type authLevel int

const (
	authNone authLevel = iota
	authRead
	authCluster
)

// authorize checks the bearer token: a missing one is 401, a wrong one 403. The read
// API accepts the read token or the cluster token; it is open when no read token is
// configured. With no cluster token configured, authentication is off.
func (s *Server) authorize(level authLevel, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var accepted []string
		switch level {
		case authRead:
			if s.cfg.ReadToken != "" {
				accepted = []string{s.cfg.ReadToken, s.cfg.ClusterToken}
			}
		case authCluster:
			if s.cfg.ClusterToken != "" {
				accepted = []string{s.cfg.ClusterToken}
			}
		}
		if len(accepted) == 0 {
			next(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="keelson"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token")
			return
		}
		for _, a := range accepted {
			if a != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(a)) == 1 {
				next(w, r)
				return
			}
		}
		writeError(w, http.StatusForbidden, "token not accepted for "+r.URL.Path)
	}
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
