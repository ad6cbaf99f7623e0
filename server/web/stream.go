package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// handleStream is the page's live feed (Server-Sent Events): one "summary" event at
// once, then one after each change of the store, each carrying the whole summary, so
// an open page makes exactly one request however often the cluster changes. Changes
// that land while a summary is being built or sent are folded into the next one.
//
// The visitor's credential is checked by the read API on every event: when the
// session expires or the token stops being accepted, a "denied" event ends the
// stream and the page goes to the login form.
func (h *Handler) handleStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeJSONError(w, http.StatusInternalServerError, "streaming not supported by this connection")
		return
	}
	cred := h.credential(r)
	_, exp, fromSession := h.session(r)
	ctx := r.Context()

	first, apiErr := h.summary(ctx, r, cred)
	if apiErr != nil {
		writeJSONError(w, apiErr.code, apiErr.msg)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	s := first
	for {
		if err := writeEvent(w, "summary", s.Index, s); err != nil {
			return
		}
		fl.Flush()
		next, err := h.waitChange(ctx, s.Index, w, fl, fromSession, exp)
		if err != nil {
			if errors.Is(err, errExpired) {
				_ = writeEvent(w, "denied", 0, map[string]string{"error": "session expired"})
				fl.Flush()
			}
			return
		}
		var apiErr *apiError
		if s, apiErr = h.summary(ctx, r, cred); apiErr != nil {
			if ctx.Err() == nil {
				name := "failed"
				if denied(apiErr.code) {
					name = "denied"
				}
				_ = writeEvent(w, name, next, map[string]string{"error": apiErr.msg})
				fl.Flush()
			}
			return
		}
	}
}

var errExpired = errors.New("session expired")

// waitChange blocks until the store's index passes after, sending a comment every
// KeepAlive so idle connections stay open, and ending when the session does.
func (h *Handler) waitChange(ctx context.Context, after uint64, w http.ResponseWriter, fl http.Flusher, fromSession bool, exp time.Time) (uint64, error) {
	for {
		wait := h.cfg.KeepAlive
		if fromSession {
			left := time.Until(exp)
			if left <= 0 {
				return 0, errExpired
			}
			wait = min(wait, left)
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		idx, err := h.cfg.Index.WaitIndex(wctx, after)
		cancel()
		if err == nil {
			return idx, nil
		}
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return 0, err // the visitor left, or the store closed
		}
		if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
			return 0, err
		}
		fl.Flush()
	}
}

// writeEvent writes one SSE event whose data is v as one line of JSON.
func writeEvent(w http.ResponseWriter, name string, id uint64, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if id > 0 {
		if _, err := fmt.Fprintf(w, "id: %d\n", id); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
	return err
}
