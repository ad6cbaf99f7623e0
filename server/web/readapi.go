package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/keelson/keelson/api"
)

// credential is the Authorization header the page's requests to the read API carry:
// the session's token, else the visitor's own header (curl with a bearer token), else
// none (the read API may be open).
func (h *Handler) credential(r *http.Request) string {
	if tok, _, ok := h.session(r); ok {
		return "Bearer " + tok
	}
	return r.Header.Get("Authorization")
}

// probePath is a cheap read endpoint: asking it tells whether a credential is
// accepted by the read API.
const probePath = api.PathEvents + "?limit=1"

// probe asks the read API whether cred is accepted; it returns the status code and,
// on failure, the API's error message.
func (h *Handler) probe(r *http.Request, cred string) (int, string) {
	res := h.get(r.Context(), r, cred, probePath)
	return res.code, res.errorMessage()
}

// result is one answer of the read API.
type result struct {
	code   int
	header http.Header
	body   bytes.Buffer
}

func (res *result) Header() http.Header         { return res.header }
func (res *result) Write(b []byte) (int, error) { return res.body.Write(b) }
func (res *result) WriteHeader(code int)        { res.code = code }

// errorMessage is the API's ErrorResponse text of a failed answer.
func (res *result) errorMessage() string {
	if res.code == http.StatusOK {
		return ""
	}
	var e api.ErrorResponse
	if json.Unmarshal(res.body.Bytes(), &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(res.body.String())
}

// get sends GET path to the read API in process, as from the visitor's connection
// (its address and TLS state) with cred as its only credential.
func (h *Handler) get(ctx context.Context, from *http.Request, cred, path string) *result {
	res := &result{code: http.StatusOK, header: http.Header{}}
	sub, err := h.request(ctx, from, cred, path)
	if err != nil {
		res.code = http.StatusBadRequest
		res.body.WriteString(err.Error())
		return res
	}
	h.cfg.API.ServeHTTP(res, sub)
	return res
}

func (h *Handler) request(ctx context.Context, from *http.Request, cred, path string) (*http.Request, error) {
	sub, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	sub.RemoteAddr, sub.TLS, sub.Host = from.RemoteAddr, from.TLS, from.Host
	sub.RequestURI = path
	if cred != "" {
		sub.Header.Set("Authorization", cred)
	}
	return sub, nil
}

// denied answers a request whose credential the read API did not accept.
func denied(code int) bool {
	return code == http.StatusUnauthorized || code == http.StatusForbidden
}

// writeJSONError answers the page's scripts; 401 tells them to go to the login.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: msg})
}
