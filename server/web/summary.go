package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/keelson/keelson/api"
)

// Summary is everything the page draws, in one answer: the read API's own responses,
// untouched, so the page and `keelson status`/`get` can never disagree.
type Summary struct {
	// Index is the raft index the status reflects; the stream waits for a newer one.
	Index    uint64          `json:"index"`
	Status   json.RawMessage `json:"status"`   // api.StatusResponse
	Pods     json.RawMessage `json:"pods"`     // []api.PodRecord
	Services json.RawMessage `json:"services"` // []api.ServiceView (with endpoints)
	RCs      json.RawMessage `json:"rcs"`      // []api.RCView
}

// apiError is a read API answer other than 200.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return strconv.Itoa(e.code) + ": " + e.msg }

// summary asks the read API for each part of the page.
func (h *Handler) summary(ctx context.Context, from *http.Request, cred string) (*Summary, *apiError) {
	var s Summary
	parts := []struct {
		path string
		dst  *json.RawMessage
	}{
		{api.PathStatus, &s.Status}, {api.PathPods, &s.Pods},
		{api.PathServices, &s.Services}, {api.PathRCs, &s.RCs},
	}
	for i, p := range parts {
		res := h.get(ctx, from, cred, p.path)
		if res.code != http.StatusOK {
			return nil, &apiError{code: res.code, msg: res.errorMessage()}
		}
		*p.dst = json.RawMessage(res.body.Bytes())
		if i == 0 {
			s.Index, _ = strconv.ParseUint(res.header.Get(api.IndexHeader), 10, 64)
		}
	}
	return &s, nil
}

// handleSummary is the summary as one JSON document (tools, and the page's first
// paint when the stream is not yet open).
func (h *Handler) handleSummary(w http.ResponseWriter, r *http.Request) {
	s, err := h.summary(r.Context(), r, h.credential(r))
	if err != nil {
		writeJSONError(w, err.code, err.msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
}

// handlePage serves the page to a visitor the read API lets in, and sends anyone else
// to the login form.
func (h *Handler) handlePage(w http.ResponseWriter, r *http.Request) {
	code, msg := h.probe(r, h.credential(r))
	switch {
	case denied(code):
		http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
		return
	case code != http.StatusOK:
		http.Error(w, "the read API answered "+strconv.Itoa(code)+": "+msg, http.StatusBadGateway)
		return
	}
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, "page missing from the binary", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}
