package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/internal/cli/printers"
)

// newStatusCmd builds `keelson status`.
func newStatusCmd() *cobra.Command { return statusCmd(processEnv()) }

// statusCmd shows the cluster at a glance: the applied commit, sync and health, the
// newest refused revision with its file:line errors, the Git source, servers, nodes,
// pods per phase and recent events.
func statusCmd(env cliEnv) *cobra.Command {
	f := &clientFlags{env: env}
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the applied commit, sync and health, refused revisions, nodes and pods",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "", "json", "yaml"); err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			w := cmd.OutOrStdout()
			switch output {
			case "json":
				return printers.JSON(w, st)
			case "yaml":
				return printers.YAML(w, st)
			}
			return printers.Status(w, &st, f.options(false, false), f.color(w))
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: human)")
	return cmd
}
