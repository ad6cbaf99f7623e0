package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/keelson/keelson/pki"
)

// authLevel is who may call a route.
type authLevel int

const (
	authNone authLevel = iota
	// authRead: the read token (bearer), or a reader or server certificate.
	authRead
	// authNode: a node certificate; the handler then restricts it to its own node.
	authNode
	// authServer: a server certificate (raft membership).
	authServer
	// authServerToken: the server-join secret, for a server that has no certificate yet.
	authServerToken
	// authNodeToken: a node-join token, for an agent that has no certificate yet.
	authNodeToken
)

// identityHeader carries the original caller's identity on a request a follower
// forwards to the leader. It is believed only from a server certificate.
const identityHeader = "X-Keelson-Identity"

type callerKey struct{}

// caller is who made the request: a verified certificate's identity (possibly the
// identity a forwarding server vouches for), or the zero Identity for a bearer token.
func callerOf(ctx context.Context) (pki.Identity, bool) {
	id, ok := ctx.Value(callerKey{}).(pki.Identity)
	return id, ok
}

// identify reads the caller's certificate. A server that forwards a request on
// behalf of someone else says whom in identityHeader.
func identify(r *http.Request) (pki.Identity, bool) {
	id, ok := pki.PeerIdentity(r.TLS)
	if !ok {
		return pki.Identity{}, false
	}
	if id.Role == pki.RoleServer && r.Header.Get(forwardedHeader) != "" {
		if v := r.Header.Get(identityHeader); v != "" {
			f := strings.Fields(v)
			if len(f) == 3 {
				return pki.Identity{Role: pki.Role(f[0]), Name: f[1], KeyHash: f[2]}, true
			}
			return pki.Identity{}, false
		}
	}
	return id, true
}

func formatIdentity(id pki.Identity) string {
	return string(id.Role) + " " + id.Name + " " + id.KeyHash
}

func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(tok)
}

// authorize admits a request by its certificate or bearer token as level demands:
// nothing at all is 401, a credential of the wrong kind is 403.
func (s *Server) authorize(level authLevel, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if level == authNone {
			next(w, r)
			return
		}
		id, hasCert := identify(r)
		tok := bearer(r)
		if !hasCert && tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="keelson"`)
			writeError(w, http.StatusUnauthorized, "a client certificate or a bearer token is required")
			return
		}
		ok := false
		switch level {
		case authRead:
			ok = (hasCert && (id.Role == pki.RoleReader || id.Role == pki.RoleServer)) ||
				(!hasCert && s.creds.readTokens.Accepts(tok))
		case authNode:
			ok = hasCert && id.Role == pki.RoleNode
		case authServer:
			ok = hasCert && id.Role == pki.RoleServer
		case authServerToken:
			ok = s.creds.serverTokens.Accepts(tok)
		case authNodeToken:
			ok = s.creds.nodeTokens.Accepts(tok)
		}
		if !ok {
			writeError(w, http.StatusForbidden, "credential not accepted for "+r.URL.Path)
			return
		}
		if hasCert {
			r = r.WithContext(context.WithValue(r.Context(), callerKey{}, id))
		}
		next(w, r)
	}
}
