package devcluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/server/kubeapi"
)

// writeKubeconfig writes <Dir>/kubeconfig (mode 0600) for kubectl and other Kubernetes
// tools and says how to use it: the dev cluster's CA and its read token, never a node
// or server credential.
func writeKubeconfig(out io.Writer, o Options, creds devenv.Credentials) error {
	tok, err := creds.ReadToken()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	data, err := kubeapi.Kubeconfig(kubeapi.KubeconfigOptions{Name: "keelson-dev", Server: "https://" + o.HTTPAddr,
		Token: tok, CAFile: creds.CAFile()})
	if err != nil {
		return err
	}
	path := filepath.Join(o.Dir, "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fmt.Fprintf(out, "kubectl reads it too (writes are refused with the repository to push to):\n"+
		"  export KUBECONFIG=%s\n  kubectl get pods -o wide\n", abs)
	return nil
}
