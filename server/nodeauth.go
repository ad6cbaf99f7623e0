package server

import (
	"net/http"
	"net/netip"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
)

// Node restriction, as Kubernetes' NodeRestriction admission: a node certificate
// speaks only for its own node name, and only with the key that first registered it.

// asNode checks that the caller is node name (with the key bound to it, if the name
// is registered) and writes a 403 otherwise.
func asNode(w http.ResponseWriter, r *http.Request, st *raftstore.State, name string) (pki.Identity, bool) {
	id, ok := callerOf(r.Context())
	if !ok || id.Role != pki.RoleNode {
		writeError(w, http.StatusForbidden, "a node certificate is required")
		return id, false
	}
	if id.Name != name {
		writeError(w, http.StatusForbidden, "node "+id.Name+" may not act for node "+name)
		return id, false
	}
	if n, found := st.Node(name); found && n.KeyHash != "" && n.KeyHash != id.KeyHash {
		writeError(w, http.StatusForbidden, "node "+name+" is registered with another key")
		return id, false
	}
	return id, true
}

// checkReports refuses a status batch in which the calling node reports for a pod
// assigned to another node, for another node, or with a pod IP outside its own pod
// CIDR (the IP flows into every node's service DNAT). Reports for pods that no longer
// exist pass: the store ignores them (fencing).
func checkReports(w http.ResponseWriter, r *http.Request, st *raftstore.State, reports []api.PodStatusReport) bool {
	id, ok := callerOf(r.Context())
	if !ok || id.Role != pki.RoleNode {
		writeError(w, http.StatusForbidden, "a node certificate is required")
		return false
	}
	if _, ok := asNode(w, r, st, id.Name); !ok {
		return false
	}
	node, _ := st.Node(id.Name)
	cidr, cidrErr := netip.ParsePrefix(node.PodCIDR)
	for _, rep := range reports {
		if rep.Node != id.Name {
			writeError(w, http.StatusForbidden, "node "+id.Name+" may not report for node "+rep.Node)
			return false
		}
		p, found := st.Pod(rep.UID)
		if found && p.Node != id.Name {
			writeError(w, http.StatusForbidden, "pod "+rep.UID+" is not assigned to node "+id.Name)
			return false
		}
		if rep.Status.PodIP == "" {
			continue
		}
		ip, err := netip.ParseAddr(rep.Status.PodIP)
		if err != nil || cidrErr != nil || !cidr.Contains(ip) {
			writeError(w, http.StatusForbidden, "pod IP "+rep.Status.PodIP+" is outside node "+id.Name+"'s pod CIDR "+node.PodCIDR)
			return false
		}
	}
	return true
}
