package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/server/kubeapi"
)

// newKubeconfigCmd builds `keelson kubeconfig`: a kubeconfig for kubectl and other
// Kubernetes tools, pointing at the cluster's Kubernetes-shaped read API.
func newKubeconfigCmd() *cobra.Command {
	f := clientFlags{env: processEnv()}
	var name string
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a kubeconfig for kubectl, k9s, Lens and client-go (read-only access)",
		Long: "Prints a kubeconfig whose server is the first --server URL and whose credential is the\n" +
			"read token (--token-file / KEELSON_TOKEN_FILE / KEELSON_TOKEN) and whose CA is --ca-file.\nSave it (it holds the token: keep it private) and\n" +
			"point KUBECONFIG at it:  keelson kubeconfig > ~/.kube/keelson && export KUBECONFIG=~/.kube/keelson",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			servers := splitServers(f.server)
			if len(servers) == 0 {
				return usageError(errors.New("--server: no server URL given"))
			}
			token, err := f.creds.readToken()
			if err != nil {
				return err
			}
			out, err := kubeapi.Kubeconfig(kubeapi.KubeconfigOptions{
				Name: name, Server: servers[0], Token: token, CAFile: f.creds.caFile,
			})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&name, "name", "keelson", "name of the cluster, user and context in the kubeconfig")
	return cmd
}
