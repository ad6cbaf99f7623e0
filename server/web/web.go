// Package web is the read-only web page of a Keelson server: embedded HTML, CSS and
// JavaScript (no framework, no build step, nothing fetched from elsewhere), a login
// that turns the read token into a session cookie, a summary of the cluster, a
// Server-Sent Events stream that pushes a new summary on every store change, and
// read-only views of files and plans.
//
// It never reads the store itself: every piece of data comes from the server's own
// read API (Config.API) through an in-process request carrying the visitor's
// credential, so the page shows exactly what that API shows to that credential and
// obeys whatever authentication the server applies to it. Nothing here writes state:
// Git is the only writer.
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"
)

// Prefix is where the page is mounted on the server's mux.
const Prefix = "/ui/"

// maxPlans is how many plan views one server computes at once.
const maxPlans = 2

// Index is the part of the replicated store the live stream needs: block until the
// store has applied an entry after the given raft index (raftstore.Store implements it).
type Index interface {
	WaitIndex(ctx context.Context, after uint64) (uint64, error)
}

// PlanFunc previews what making branch the desired state would do: the value is
// rendered as JSON for the plan view (the wiring returns `keelson plan`'s report).
type PlanFunc func(ctx context.Context, branch string) (any, error)

// FileFunc returns the content of a manifest file (path relative to the manifests
// directory, as in file:line errors) at a commit of the desired-state repository.
type FileFunc func(ctx context.Context, commit, path string) ([]byte, error)

// Config wires the page to its server.
type Config struct {
	// API is the server's HTTP API; the page sends it GET requests of the read API
	// (api.PathStatus, ...) with the visitor's credential.
	API http.Handler
	// Index drives the live stream.
	Index Index
	// Plan and File back the plan and file views; nil turns the view off (it says so).
	Plan PlanFunc
	File FileFunc
	// SessionTTL is how long a login lasts (default 8h).
	SessionTTL time.Duration
	// KeepAlive is how often an idle stream sends a comment so proxies keep it open
	// (default 25s).
	KeepAlive time.Duration
	Logger    *slog.Logger
}

//go:embed assets
var assets embed.FS

// Handler serves everything under Prefix.
type Handler struct {
	cfg      Config
	sessions *sessions
	mux      *http.ServeMux
	log      *slog.Logger
	plans    chan struct{} // one slot per plan being computed
}

// New builds the page with a fresh random session key: sessions end when the server
// restarts, and one server's cookie means nothing to another.
func New(cfg Config) (*Handler, error) {
	if cfg.API == nil || cfg.Index == nil {
		return nil, errors.New("web: Config.API and Config.Index are required")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 25 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("web: session key: %w", err)
	}
	s, err := newSessions(key, cfg.SessionTTL)
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, sessions: s, log: cfg.Logger, plans: make(chan struct{}, maxPlans)}
	h.mux = h.routes()
	return h, nil
}

func (h *Handler) routes() *http.ServeMux {
	static, _ := fs.Sub(assets, "assets/static")
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+Prefix+"login", h.handleLoginPage)
	mux.HandleFunc("POST "+Prefix+"login", h.handleLogin)
	mux.HandleFunc("POST "+Prefix+"logout", h.handleLogout)
	mux.HandleFunc("GET "+Prefix+"{$}", h.handlePage)
	mux.HandleFunc("GET "+Prefix+"api/summary", h.handleSummary)
	mux.HandleFunc("GET "+Prefix+"api/stream", h.handleStream)
	mux.HandleFunc("GET "+Prefix+"api/logs/{namespace}/{pod}", h.handleLogs)
	mux.HandleFunc("GET "+Prefix+"api/file", h.handleFile)
	mux.HandleFunc("GET "+Prefix+"api/plan", h.handlePlan)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the web view is read-only: change the cluster by committing to Git", http.StatusMethodNotAllowed)
			return
		}
		http.NotFound(w, r)
	})
	return mux
}

// ServeHTTP sets the security headers of every answer and dispatches.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Only our own files: no inline script or style, no frames, no plugins, forms
	// post only here. connect-src 'self' covers fetch and EventSource.
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
		"img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: with no-referrer a browser posts forms with
	// "Origin: null", and the login could not tell its own form from another site's.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.mux.ServeHTTP(w, r)
}
