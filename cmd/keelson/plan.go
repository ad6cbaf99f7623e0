package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/gitsource"
	"github.com/keelson/keelson/internal/cli/planview"
	"github.com/keelson/keelson/reconciler"
	"github.com/keelson/keelson/server/client"
)

// planFlags are the options of `keelson plan`.
type planFlags struct {
	env        cliEnv
	repo       string
	base, head string
	path       string
	server     string
	creds      credFlags
	output     string
	noColor    bool
}

// newPlanCmd builds `keelson plan`.
func newPlanCmd() *cobra.Command { return planCmd(processEnv()) }

// planCmd shows what merging head into base would do, for pull-request review: head's
// validation errors, the object-level diff, and the consequences the reconciler's own
// Plan() draws from it (pods created, stopped and rolled, services whose backends
// change; with --server, placements and capacity on the live cluster).
func planCmd(env cliEnv) *cobra.Command {
	p := &planFlags{env: env}
	cmd := &cobra.Command{
		Use:   "plan --repo PATH --base REV --head REV",
		Short: "Preview what a branch would change in the cluster (for pull requests)",
		Long: `Plan reads two revisions of the desired-state repository and reports, before anything
is merged:
  - head's validation errors as file:line (the commit would be refused whole);
  - the object-level diff: objects added, removed, and changed field by field;
  - what the cluster would do, computed by the same Plan() the leader runs: pods
    created, stopped and rolled, pods left Pending, services whose backends change.
Without --server the preview starts from base fully running on one unlimited node;
with --server it starts from the live cluster's nodes, pods and services, so it shows
placements and capacity and which pods would not fit. --server is never taken from
KEELSON_SERVER, so a CI job previews against a cluster only when asked to.

Exit status (like terraform plan -detailed-exitcode): 0 no change, 1 head invalid
(or the plan could not be computed), 2 head changes objects.
-o markdown is ready to post as a pull-request comment (see docs/plan-in-ci.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch p.output {
			case "text", "markdown", "md", "json":
			default:
				return fmt.Errorf("unknown output format %q: want text, markdown or json", p.output)
			}
			if p.base == "" || p.head == "" {
				return fmt.Errorf("plan needs --base and --head")
			}
			rep, err := p.run(cmd.Context())
			if err != nil {
				return err
			}
			if err := p.write(cmd.OutOrStdout(), rep); err != nil {
				return fmt.Errorf("plan: write output: %w", err)
			}
			switch rep.ExitCode() {
			case planview.ExitInvalid:
				return &exitCodeError{Code: planview.ExitInvalid, Err: fmt.Errorf("%s is invalid: %d error(s)", p.head, len(rep.Errors))}
			case planview.ExitChanges:
				return &exitCodeError{Code: planview.ExitChanges}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&p.repo, "repo", ".", "repository: a local path (bare or not) or a remote URL")
	fl.StringVar(&p.base, "base", "", "base revision: branch, tag or commit (e.g. main, origin/main)")
	fl.StringVar(&p.head, "head", "HEAD", "head revision: the change under review")
	fl.StringVar(&p.path, "path", "", "manifests directory inside the repository (default: the root)")
	fl.StringVar(&p.server, "server", "", "preview against this live cluster (comma-separated URLs)")
	p.creds.register(cmd, env)
	fl.StringVarP(&p.output, "output", "o", "text", "output format: text, markdown or json")
	fl.BoolVar(&p.noColor, "no-color", false, "never color the text output")
	return cmd
}

// run reads both revisions and builds the report.
func (p *planFlags) run(ctx context.Context) (*planview.Report, error) {
	base, head, err := p.read(ctx)
	if err != nil {
		return nil, err
	}
	objs, err := planview.DiffObjects(&base.Objects, &head.Objects)
	if err != nil {
		return nil, fmt.Errorf("plan: diff: %w", err)
	}
	rep := &planview.Report{
		Base:       planview.NewRevInfo(p.base, &base),
		Head:       planview.NewRevInfo(p.head, &head),
		BaseErrors: len(base.Errors),
		Errors:     head.Errors,
		Objects:    objs,
	}
	if !head.Valid() {
		return rep, nil // nothing of head would be applied
	}
	cfg := planview.PreviewConfig()
	now := p.env.now()
	var observed reconciler.Observed
	live := p.server != ""
	if live {
		c, err := p.creds.client(p.server)
		if err != nil {
			return nil, err
		}
		if cfg, observed, err = liveObserved(ctx, c, cfg, now); err != nil {
			return nil, fmt.Errorf("plan: read the live cluster: %w", err)
		}
	} else if observed, err = planview.IdealObserved(cfg, &base, now); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	cons, err := planview.ComputeConsequences(cfg, observed, &head, live)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	rep.Consequences = &cons
	return rep, nil
}

// read decodes base and head from the repository, exactly as the server would.
func (p *planFlags) read(ctx context.Context) (base, head api.Revision, err error) {
	cfg := gitsource.Config{URL: p.repo, Path: p.path}
	if _, statErr := os.Stat(p.repo); statErr != nil {
		// Not a path on disk, so a remote URL: gitsource clones it into a work dir.
		dir, err := os.MkdirTemp("", "keelson-plan-")
		if err != nil {
			return base, head, fmt.Errorf("plan: work dir for the clone: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.WorkDir = dir
	}
	src, err := gitsource.New(cfg)
	if err != nil {
		return base, head, fmt.Errorf("plan: %w", err)
	}
	if base, err = src.Read(ctx, p.base); err != nil {
		return base, head, fmt.Errorf("plan: base: %w", err)
	}
	if head, err = src.Read(ctx, p.head); err != nil {
		return base, head, fmt.Errorf("plan: head: %w", err)
	}
	return base, head, nil
}

func (p *planFlags) write(w io.Writer, rep *planview.Report) error {
	switch p.output {
	case "json":
		return rep.JSON(w)
	case "markdown", "md":
		return rep.Markdown(w)
	}
	color := !p.noColor && p.env.getenv("NO_COLOR") == "" && p.env.terminal(w)
	return rep.Text(w, color)
}

// liveObserved reads the live cluster: the reconciler configuration it runs with
// (overlaid on cfg, which keeps its deterministic names) and its state as Plan's input.
func liveObserved(ctx context.Context, c *client.Client, cfg reconciler.Config, now time.Time) (reconciler.Config, reconciler.Observed, error) {
	pub, err := c.ReconcilerConfig(ctx)
	if err != nil {
		return cfg, reconciler.Observed{}, fmt.Errorf("reconciler config: %w", err)
	}
	if cfg, err = cfg.WithPublished(pub); err != nil {
		return cfg, reconciler.Observed{}, fmt.Errorf("reconciler config from the server: %w", err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		return cfg, reconciler.Observed{}, fmt.Errorf("status: %w", err)
	}
	nodes, _, err := c.Nodes(ctx, client.QueryOptions{})
	if err != nil {
		return cfg, reconciler.Observed{}, fmt.Errorf("nodes: %w", err)
	}
	pods, _, err := c.Pods(ctx, client.QueryOptions{})
	if err != nil {
		return cfg, reconciler.Observed{}, fmt.Errorf("pods: %w", err)
	}
	svcs, _, err := c.Services(ctx, client.QueryOptions{})
	if err != nil {
		return cfg, reconciler.Observed{}, fmt.Errorf("services: %w", err)
	}
	eps, _, err := c.Endpoints(ctx, client.QueryOptions{})
	if err != nil {
		return cfg, reconciler.Observed{}, fmt.Errorf("endpoints: %w", err)
	}
	return cfg, observedFrom(cfg, now, st, nodes, pods, svcs, eps), nil
}

// observedFrom assembles reconciler.Observed from API answers. Heartbeats are not in
// the API (they live in the leader's memory), so they are dated to keep every node in
// the state the leader reports.
func observedFrom(cfg reconciler.Config, now time.Time, st api.StatusResponse, nodes []api.Node, pods []api.PodRecord, svcs []api.ServiceView, eps []api.Endpoints) reconciler.Observed {
	records := make([]api.ServiceRecord, len(svcs))
	for i := range svcs {
		records[i] = svcs[i].ServiceRecord
	}
	snap := &reconciler.Records{NodeList: nodes, PodList: pods, Svcs: records, Eps: eps, Objects: st.Objects, ClusterSt: st.Cluster}
	return reconciler.Observe(snap, now, reconciler.BeatsFromStatus(cfg, now))
}
