package devcluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/keelson/keelson/server/kubeapi"
)

// writeKubeconfig writes <Dir>/kubeconfig for kubectl and other Kubernetes tools and
// says how to use it. The dev server's read API is open (no read token), so the file
// holds no credential: the cluster token stays out of it.
func writeKubeconfig(out io.Writer, o Options) error {
	data, err := kubeapi.Kubeconfig(kubeapi.KubeconfigOptions{Name: "keelson-dev", Server: "http://" + o.HTTPAddr})
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
