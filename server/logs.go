package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
)

// handleLogs proxies a pod's container log from the agent running it. Any server can
// answer: the pod's node and the agent's URL are in the replicated state. The call is
// mutual TLS: the agent admits server certificates only, and the server reads the
// answer only from the certificate of the pod's own node.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("pod")
	st := s.store.Snapshot()
	var pod *api.PodRecord
	for _, p := range st.PodsByName(ns, name) {
		if p.Node == "" {
			continue
		}
		if pod == nil || preferForLogs(&p, pod) {
			pod = &p
		}
	}
	if pod == nil {
		writeError(w, http.StatusNotFound, "pod "+ns+"/"+name+" is not running on any node")
		return
	}
	node, ok := st.Node(pod.Node)
	if !ok || node.AgentURL == "" {
		writeError(w, http.StatusServiceUnavailable, "node "+pod.Node+" has no agent URL")
		return
	}
	q := r.URL.Query()
	container := q.Get("container")
	if container == "" {
		if len(pod.Spec.Containers) != 1 {
			writeError(w, http.StatusBadRequest, "pod "+name+" has several containers: choose one with ?container=")
			return
		}
		container = pod.Spec.Containers[0].Name
	}
	fwd := url.Values{}
	for _, k := range []string{"follow", "tail"} {
		if q.Has(k) {
			fwd.Set(k, q.Get(k))
		}
	}
	target := strings.TrimRight(node.AgentURL, "/") + api.PathAgentLogs + url.PathEscape(pod.UID) + "/" + url.PathEscape(container)
	if len(fwd) > 0 {
		target += "?" + fwd.Encode()
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target, nil)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "build agent request: "+err.Error())
		return
	}
	resp, err := s.client.Do(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, "agent "+node.Name+": "+err.Error())
		return
	}
	defer resp.Body.Close()
	if id, ok := pki.PeerIdentity(resp.TLS); !ok || id.Role != pki.RoleNode || id.Name != node.Name {
		writeError(w, http.StatusBadGateway, "agent at "+node.AgentURL+" did not present node "+node.Name+"'s certificate")
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	copyFlushing(w, resp.Body)
}

// preferForLogs picks, among pods sharing a name, a running one, then the newest.
func preferForLogs(a, b *api.PodRecord) bool {
	if (a.Desire == api.DesireRun) != (b.Desire == api.DesireRun) {
		return a.Desire == api.DesireRun
	}
	return a.CreatedAt.After(b.CreatedAt)
}
