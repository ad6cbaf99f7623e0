package server

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
	"k8s.io/apimachinery/pkg/labels"
)

// statusEvents is how many recent events `keelson status` shows.
const statusEvents = 20

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, ok := s.query(w, r, globalIndex)
	if !ok {
		return
	}
	servers, err := s.store.Servers()
	if err != nil {
		s.logger.Warn("list raft servers", "err", err)
	}
	leader, _ := s.store.Leader()
	resp := api.StatusResponse{
		Index: st.Index(), Leader: leader, Servers: servers, Cluster: st.Cluster(),
		Refused: st.Refused(), Source: st.Source(), Objects: st.ObjectStatus(), Nodes: st.Nodes(),
		PodCount: map[string]int{},
	}
	// Redacted again here, whatever was recorded: credentials never leave by the read API.
	resp.Source.URL, resp.Source.Message = api.RedactURLs(resp.Source.URL), api.RedactURLs(resp.Source.Message)
	if rev := st.Revision(); rev != nil {
		rev.Objects = api.Manifests{}
		resp.Applied = rev
	}
	for _, p := range st.Pods() {
		phase := string(p.Status.Phase)
		if phase == "" {
			phase = "Pending"
		}
		resp.PodCount[phase]++
	}
	if last := st.LastEventSeq(); last > statusEvents {
		resp.Events = st.Events(last-statusEvents, 0)
	} else {
		resp.Events = st.Events(0, 0)
	}
	if resp.Events == nil {
		resp.Events = []api.Event{}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.query(w, r, tableIndex("nodes")); ok {
		writeJSON(w, http.StatusOK, st.Nodes())
	}
}

// handlePods lists pods, optionally filtered by ?namespace= and a label ?selector=.
func (s *Server) handlePods(w http.ResponseWriter, r *http.Request) {
	sel := labels.Everything()
	if v := r.URL.Query().Get("selector"); v != "" {
		parsed, err := labels.Parse(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad selector: "+err.Error())
			return
		}
		sel = parsed
	}
	st, ok := s.query(w, r, tableIndex("pods"))
	if !ok {
		return
	}
	ns := r.URL.Query().Get("namespace")
	out := []api.PodRecord{}
	for _, p := range st.Pods() {
		if (ns == "" || p.Namespace == ns) && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b api.PodRecord) int {
		if c := cmp.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleServices(w http.ResponseWriter, r *http.Request) {
	st, ok := s.query(w, r, tableIndex("services", "endpoints", "meta"))
	if !ok {
		return
	}
	eps := map[string][]api.Endpoint{}
	for _, e := range st.Endpoints() {
		eps[e.Key()] = e.Ports
	}
	sources := sourcesOf(st)
	out := []api.ServiceView{}
	for _, svc := range st.Services() {
		out = append(out, api.ServiceView{ServiceRecord: svc, Endpoints: eps[svc.Key()], Source: sources[svc.Key()]})
	}
	writeJSON(w, http.StatusOK, out)
}

func sourcesOf(st *raftstore.State) map[string]api.Source {
	if rev := st.Revision(); rev != nil {
		return rev.Objects.Sources
	}
	return nil
}

// handleRCs shows each ReplicationController of the applied revision with its
// observed pod counts.
func (s *Server) handleRCs(w http.ResponseWriter, r *http.Request) {
	st, ok := s.query(w, r, tableIndex("pods", "meta", "objects"))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, api.RCViews(st.Revision(), st.ObjectStatus(), st.PodsByOwner))
}

// handleEvents lists events with Seq > ?since (and at most ?limit).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since uint64
	limit := 0
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad since: "+err.Error())
			return
		}
		since = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "bad limit")
			return
		}
		limit = n
	}
	if st, ok := s.query(w, r, tableIndex("events")); ok {
		out := st.Events(since, limit)
		if out == nil {
			out = []api.Event{}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) handleEndpoints(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.query(w, r, tableIndex("endpoints")); ok {
		writeJSON(w, http.StatusOK, st.Endpoints())
	}
}

// HealthResponse is the body of /v1/health: who this server is, so peers can discover
// each other for bootstrap-expect.
type HealthResponse struct {
	api.ServerInfo
	LeaderID string `json:"leaderID,omitempty"`
	Index    uint64 `json:"index"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	_, leaderID := s.store.Leader()
	writeJSON(w, http.StatusOK, HealthResponse{
		ServerInfo: api.ServerInfo{ID: s.cfg.ID, RaftAddr: s.store.RaftAddr(), HTTPAddr: s.cfg.HTTPAdvertise, Leader: s.store.IsLeader(), Voter: true},
		LeaderID:   leaderID, Index: s.store.AppliedIndex(),
	})
}
