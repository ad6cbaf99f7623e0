// Command keelson is the single binary of the project: control-plane server, node
// agent, all-in-one dev cluster, and the read-only CLI. Each subcommand lives in its own
// file and only turns flags into configuration; the logic lives in the packages.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := newRootCmd()
	err := root.Execute()
	if err == nil {
		return
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.Err != nil {
			fmt.Fprintln(os.Stderr, "error:", ec.Err)
		}
		os.Exit(ec.Code)
	}
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "keelson",
		Short: "GitOps cluster reconciler: Git is the only source of desired state",
		Long: `Keelson runs the Kubernetes v1 Pods, Services and ReplicationControllers that a Git
branch declares. Deploy with git push; review with keelson plan; watch with the
read-only commands below. No command here writes desired state.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServerCmd(), newAgentCmd(), newDevCmd(),
		newStatusCmd(), newGetCmd(), newDescribeCmd(), newEventsCmd(), newLogsCmd(),
		newPlanCmd(), newValidateCmd(), newVersionCmd(), newReaderCertCmd(),
		newKubeconfigCmd(),
	)
	return root
}
