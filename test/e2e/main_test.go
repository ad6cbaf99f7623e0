// Package e2e is Keelson's end-to-end suite: real keelson server and agent processes
// (3 servers, 2 agents), a private containerd, a local registry, real `git push`, and
// real failures (SIGKILL of the leader and of agents). Each test starts its own
// cluster; the daemons and the example image are shared by the package (TestMain).
//
// It needs root, containerd, runc, the CNI plugins, nftables, docker-registry and git:
// without them every test skips locally and fails under CI=true.
package e2e

import (
	"context"
	"os"
	"testing"

	"github.com/keelson/keelson/test/harness"
)

// shared is the package's suite, prepared once by TestMain.
var shared = &harness.Suite{Name: "e2e", BeforeStart: func() {
	for _, s := range agentSpecs("") {
		_ = s.RemoveAll(context.Background()) // leftovers of a killed earlier run
	}
}}

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// requireSuite skips (locally) or fails (CI=true) a test when the suite cannot run.
func requireSuite(t *testing.T) *harness.Env { t.Helper(); return shared.Require(t) }
