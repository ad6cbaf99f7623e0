package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Set at build time by the Makefile (-ldflags -X).
var (
	version = "dev"
	commit  = "unknown"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "keelson %s (commit %s, %s)\n", version, commit, runtime.Version())
			return err
		},
	}
}
