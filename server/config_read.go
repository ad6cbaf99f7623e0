package server

import "net/http"

// handleConfig publishes the reconciler configuration this server's leader loop runs
// with. It is static for the process, so it needs no store read and no blocking query;
// every server of a cluster is started with the same reconciler flags.
func (s *Server) handleConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.deps.Reconciler.Published())
}
