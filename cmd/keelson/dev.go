package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/internal/devcluster"
)

// newDevCmd builds `keelson dev`, what `make run` calls.
func newDevCmd() *cobra.Command {
	var o devcluster.Options
	var reaper bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run an all-in-one cluster on this machine, serving manifests-example from a local Git repo",
		Long: "Starts a private containerd (unless one runs), a local registry with the example image\n" +
			"built and pushed, a bare Git repository seeded with manifests-example, one server and one\n" +
			"agent. Deploy by pushing to the printed repository. Ctrl-C stops everything it started;\n" +
			"the repository and what you pushed stay.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Behind `make run | tee log`, Ctrl-C ends tee first: the next line dev
			// prints would then kill it with SIGPIPE before it stopped its children.
			// Ignored, a write to the closed pipe just fails and the shutdown goes on.
			signal.Ignore(syscall.SIGPIPE)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = cmd.OutOrStdout()
			if reaper {
				return devcluster.Reap(ctx, o, os.Stdin)
			}
			return devcluster.Run(ctx, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Dir, "dir", ".keelson/dev", "where the cluster keeps its state, logs and Git repository")
	fl.StringVar(&o.Manifests, "manifests", "manifests-example", "manifests that seed a new repository")
	fl.StringVar(&o.Registry, "registry", "127.0.0.1:5000", "local registry address (plain HTTP)")
	fl.StringVar(&o.HTTPAddr, "http-addr", "127.0.0.1:7480", "server API address")
	fl.StringVar(&o.Containerd, "containerd", "", "containerd socket (default: the system one if it answers, else a private one)")
	// dev starts itself with --reaper to clean up after it if it is SIGKILLed.
	fl.BoolVar(&reaper, "reaper", false, "internal: wait for stdin to close, then remove what a killed dev left in --dir")
	_ = fl.MarkHidden("reaper")
	return cmd
}
