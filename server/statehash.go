package server

import (
	"net/http"

	"github.com/keelson/keelson/api"
)

// handleStateHash answers this replica's own state hash and applied index (never
// forwarded, never consistent: the point is to compare what each replica holds). It is
// a read route: the hash reveals nothing the other read routes do not.
func (s *Server) handleStateHash(w http.ResponseWriter, _ *http.Request) {
	st := s.store.Snapshot()
	writeJSON(w, http.StatusOK, api.StateHash{Index: st.Index(), Hash: st.Hash()})
}
