package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

const workerRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: worker
spec:
  replicas: 2
  selector:
    app: worker
  template:
    metadata:
      labels:
        app: worker
    spec:
      containers:
      - name: web
        image: %s
        args: ["-listen", ":8080", "-message", "worker"]
`

// checkPlan previews a branch (scale the frontend down, add a worker RC) with
// `keelson plan --server`, merges it, and compares the prediction with what the
// cluster did (reviewAndMerge: pods created and where, stopped, rolled, Pending).
func (k *kcluster) checkPlan(t *testing.T, want map[string]int) {
	if out, err := exec.Command(k.env.Bin, "plan", "--help").CombinedOutput(); err != nil {
		t.Skipf("keelson plan not built yet: %s", strings.TrimSpace(string(out)))
	}
	k.reviewAndMerge(t, "pr", func() {
		k.edit("frontend.yaml", "replicas: 4", "replicas: 2")
		k.write("worker.yaml", fmt.Sprintf(workerRC, k.env.WebV1))
		want[frontendRC] = 2
		want["ReplicationController/default/worker"] = 2
	}, want, map[string]int{})
}
