package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/keelson/keelson/gitsource"
	"github.com/keelson/keelson/internal/cli/planview"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/server/web"
)

// webPlan is what the web view's plan shows: `keelson plan`'s text output, exit code
// and report.
type webPlan struct {
	Text     string           `json:"text"`
	ExitCode int              `json:"exitCode"`
	Report   *planview.Report `json:"report"`
}

// webView wires the read-only web page: the plan and file views read the server's
// repository with a Git source of their own (the leader's belongs to its loop).
func webView(f serverFlags, log *slog.Logger) func(http.Handler, *raftstore.Store) http.Handler {
	return func(readAPI http.Handler, st *raftstore.Store) http.Handler {
		cfg := web.Config{API: readAPI, Index: st, Logger: log.With("component", "web")}
		if f.repo != "" {
			src, err := gitsource.New(gitsource.Config{URL: f.repo, Branch: f.branch, Path: f.path,
				WorkDir: filepath.Join(f.dataDir, "git-web"), TrustedKeyring: f.trustedKeyring, Logger: log})
			if err != nil {
				log.Warn("web view: no file view", "err", err)
			} else {
				cfg.File = src.ReadFile
			}
			cfg.Plan = func(ctx context.Context, branch string) (any, error) {
				p := &planFlags{env: processEnv(), repo: f.repo, base: f.branch, head: branch, path: f.path}
				rep, err := p.run(ctx)
				if err != nil {
					return nil, err
				}
				var text bytes.Buffer
				if err := rep.Text(&text, false); err != nil {
					return nil, fmt.Errorf("plan: render: %w", err)
				}
				return webPlan{Text: text.String(), ExitCode: rep.ExitCode(), Report: rep}, nil
			}
		}
		h, err := web.New(cfg)
		if err != nil {
			log.Error("web view off", "err", err)
			return http.NotFoundHandler()
		}
		return h
	}
}
