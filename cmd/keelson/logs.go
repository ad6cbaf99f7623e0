package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/api"
)

// newLogsCmd builds `keelson logs`.
func newLogsCmd() *cobra.Command { return logsCmd(processEnv()) }

// logsCmd prints a container's log, proxied by the server from the pod's node agent.
func logsCmd(env cliEnv) *cobra.Command {
	f := &clientFlags{env: env}
	var (
		namespace, container string
		follow               bool
		tail                 int
	)
	cmd := &cobra.Command{
		Use:   "logs POD",
		Short: "Print a container's log (-f to follow)",
		Long: `Logs prints the log of one container of a pod. -c is needed only when the pod has
several containers; -f streams until interrupted; --tail N starts with the last N lines.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(fmt.Errorf("logs needs exactly one POD"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.Logs(cmd.Context(), namespace, args[0], container, follow, tail, cmd.OutOrStdout()); err != nil {
				return fmt.Errorf("logs %s/%s: %w", namespace, args[0], err)
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&namespace, "namespace", "n", api.DefaultNamespace, "namespace")
	fl.StringVarP(&container, "container", "c", "", "container name (default: the pod's only container)")
	fl.BoolVarP(&follow, "follow", "f", false, "stream the log until interrupted")
	fl.IntVar(&tail, "tail", -1, "lines from the end to show first (-1: all)")
	return cmd
}
