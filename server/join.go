package server

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
)

// handleCA serves the cluster CA certificate: public, so a joiner can check it against
// the pin in its token before it trusts this server with a secret.
func (s *Server) handleCA(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(s.creds.ca.CertPEM)
}

// handleServerCredentials gives a server holding the server-join secret what it needs
// to serve and lead: the CA (key included) and the token files. Any member answers.
func (s *Server) handleServerCredentials(w http.ResponseWriter, _ *http.Request) {
	key, err := s.creds.ca.KeyPEM()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := api.ServerCredentials{CACert: string(s.creds.ca.CertPEM), CAKey: string(key)}
	for dst, f := range map[*string]*pki.TokenFile{&out.ServerTokens: s.creds.serverTokens, &out.NodeTokens: s.creds.nodeTokens, &out.ReadTokens: s.creds.readTokens} {
		b, err := f.Contents()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "read token file: "+err.Error())
			return
		}
		*dst = string(b)
	}
	s.logger.Info("server credentials handed out")
	writeJSON(w, http.StatusOK, out)
}

// handleNodeJoin exchanges a node-join token for a node certificate (CN = the node
// name). A name already registered with another key is refused: the first key that
// registered a name owns it until the node is removed.
func (s *Server) handleNodeJoin(w http.ResponseWriter, r *http.Request) {
	var j api.NodeJoin
	if !decodeBody(w, r, &j) {
		return
	}
	if j.Name == "" {
		writeError(w, http.StatusBadRequest, "node join: name is required")
		return
	}
	blk, _ := pem.Decode([]byte(j.CSR))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		writeError(w, http.StatusBadRequest, "node join: csr is not a PEM CERTIFICATE REQUEST")
		return
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "node join: csr: "+err.Error())
		return
	}
	if n, ok := s.store.Snapshot().Node(j.Name); ok && n.KeyHash != "" && n.KeyHash != pki.KeyHash(csr.PublicKey) {
		writeError(w, http.StatusForbidden, "node "+j.Name+" is registered with another key: remove the node first (see README, decommissioning)")
		return
	}
	cert, err := s.creds.ca.Issue(pki.RoleNode, j.Name, j.Hosts, csr.PublicKey)
	if err != nil {
		writeError(w, http.StatusBadRequest, "node join: "+err.Error())
		return
	}
	s.logger.Info("node certificate issued", "node", j.Name)
	writeJSON(w, http.StatusOK, api.NodeJoined{Cert: string(cert), CACert: string(s.creds.ca.CertPEM)})
}
