package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
)

// handleLogs streams a container's log through the read API's logs endpoint (which
// proxies to the pod's agent): the last lines, then new ones as they are written,
// until the visitor leaves the pod view.
func (h *Handler) handleLogs(w http.ResponseWriter, r *http.Request) {
	q := url.Values{"follow": {"true"}, "tail": {"200"}}
	if c := r.URL.Query().Get("container"); c != "" {
		q.Set("container", c)
	}
	if t := r.URL.Query().Get("tail"); t != "" {
		if n, err := strconv.Atoi(t); err != nil || n < 0 || n > 10000 {
			writeJSONError(w, http.StatusBadRequest, "tail: want a number of lines from 0 to 10000")
			return
		}
		q.Set("tail", t)
	}
	p := api.PathLogs + url.PathEscape(r.PathValue("namespace")) + "/" + url.PathEscape(r.PathValue("pod")) + "?" + q.Encode()
	sub, err := h.request(r.Context(), r, h.credential(r), p)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.cfg.API.ServeHTTP(w, sub)
}

// gate answers for views that do not go through the read API (files, plans): they
// are shown only to a visitor the read API accepts.
func (h *Handler) gate(w http.ResponseWriter, r *http.Request) bool {
	code, msg := h.probe(r, h.credential(r))
	if code != http.StatusOK {
		writeJSONError(w, code, msg)
		return false
	}
	return true
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// maxFile bounds a file view (Git manifests over 4 MiB are refused anyway).
const maxFile = 4 << 20

// handleFile is the repository's read-only file view: one manifest file at a commit
// (the applied or the refused one), as text, for the page to number and link.
func (h *Handler) handleFile(w http.ResponseWriter, r *http.Request) {
	if h.cfg.File == nil {
		writeJSONError(w, http.StatusNotFound, "this server has no repository to show files from")
		return
	}
	q := r.URL.Query()
	commit, file := q.Get("commit"), q.Get("path")
	if !commitRE.MatchString(commit) {
		writeJSONError(w, http.StatusBadRequest, "commit: want a full hexadecimal commit hash")
		return
	}
	if file == "" || strings.HasPrefix(file, "/") || path.Clean(file) != file || strings.HasPrefix(file, "../") || file == ".." {
		writeJSONError(w, http.StatusBadRequest, "path: want a clean path relative to the manifests directory")
		return
	}
	if !h.gate(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	data, err := h.cfg.File(ctx, commit, file)
	if err != nil {
		writeJSONError(w, http.StatusNotFound, err.Error())
		return
	}
	if len(data) > maxFile {
		data = data[:maxFile]
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(data)
}

// branchRE admits Git ref names and revision syntax without leading dashes or
// whitespace (they never reach a command line, but a clear error beats a strange one).
var branchRE = regexp.MustCompile(`^[A-Za-z0-9._/@^~{}-]{1,255}$`)

// handlePlan is `keelson plan` for any branch, computed by Config.Plan.
func (h *Handler) handlePlan(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Plan == nil {
		writeJSONError(w, http.StatusNotFound, "this server has no repository to plan from")
		return
	}
	branch := r.URL.Query().Get("branch")
	if !branchRE.MatchString(branch) || strings.HasPrefix(branch, "-") {
		writeJSONError(w, http.StatusBadRequest, "branch: want a branch, tag or commit name")
		return
	}
	if !h.gate(w, r) {
		return
	}
	// A plan reads two revisions and runs the reconciler: bound how many run at once
	// so that read access cannot turn into a server's worth of CPU.
	select {
	case h.plans <- struct{}{}:
		defer func() { <-h.plans }()
	default:
		writeJSONError(w, http.StatusTooManyRequests, "other plans are being computed: try again in a moment")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	out, err := h.cfg.Plan(ctx, branch)
	if err != nil {
		writeJSONError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
