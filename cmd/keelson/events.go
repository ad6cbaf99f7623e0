package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/cli/printers"
	"github.com/keelson/keelson/server/client"
)

// newEventsCmd builds `keelson events`.
func newEventsCmd() *cobra.Command { return eventsCmd(processEnv()) }

// eventsCmd lists the cluster's events (scheduling, rolls, prunes, node changes) and,
// with --watch, follows new ones through blocking queries.
func eventsCmd(env cliEnv) *cobra.Command {
	f := &clientFlags{env: env}
	var (
		output string
		watch  bool
		since  uint64
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List cluster events; --watch follows new ones",
		Long: `Events lists what the control plane decided and observed, oldest first.
--since SEQ shows only events after sequence number SEQ (see -o json).
--watch keeps printing new events as they happen; with -o json, one event per line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "", "json", "yaml"); err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			evs, idx, err := c.Events(cmd.Context(), since, 0, 0)
			if err != nil {
				return fmt.Errorf("list events: %w", err)
			}
			if evs == nil {
				evs = []api.Event{}
			}
			switch {
			case output == "yaml" && !watch:
				return printers.YAML(w, evs)
			case output == "json" && !watch:
				return printers.JSON(w, evs)
			}
			t := printers.Events(evs, f.options(false, false))
			if output == "" {
				if err := t.Write(w, f.color(w)); err != nil {
					return err
				}
			} else if err := writeEventLines(w, output, evs); err != nil {
				return err
			}
			if !watch {
				return nil
			}
			last := since
			if n := len(evs); n > 0 {
				last = evs[n-1].Seq
			}
			return followEvents(cmd.Context(), c, f, w, cmd.ErrOrStderr(), output, t.Widths(), last, idx)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "keep printing new events")
	cmd.Flags().Uint64Var(&since, "since", 0, "only events with a sequence number above SEQ")
	return cmd
}

// writeEventLines prints events one document each (JSON lines, or YAML documents),
// the streaming form of --watch.
func writeEventLines(w io.Writer, output string, evs []api.Event) error {
	for i := range evs {
		var err error
		if output == "yaml" {
			if _, err = io.WriteString(w, "---\n"); err == nil {
				err = printers.YAML(w, evs[i])
			}
		} else {
			err = printers.JSON(w, evs[i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// followEvents prints events newer than last as the server reports them, rows aligned
// under the table already printed.
func followEvents(ctx context.Context, c *client.Client, f *clientFlags, w, errw io.Writer, output string, widths []int, last, idx uint64) error {
	color := f.color(w)
	return follow(ctx, errw, idx, func(ctx context.Context, index uint64) (uint64, error) {
		evs, next, err := c.Events(ctx, last, index, watchWait)
		if err != nil || len(evs) == 0 {
			return next, err
		}
		last = evs[len(evs)-1].Seq
		if output != "" {
			return next, printed(writeEventLines(w, output, evs))
		}
		return next, printed(printers.WriteRows(w, widths, printers.Events(evs, f.options(false, false)).Rows(), color))
	})
}
