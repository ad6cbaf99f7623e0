// Package kubectl proves the Kubernetes-shaped read API with the real tools: the
// kubectl binary and a client-go informer, against 3 keelson server processes and a
// real agent on containerd, deploying by `git push`.
//
// It needs root, containerd, runc, the CNI plugins, nftables, docker-registry, git
// and kubectl: without them every test skips locally and fails under CI=true.
package kubectl

import (
	"context"
	"os"
	"testing"

	"github.com/keelson/keelson/test/harness"
)

var shared = &harness.Suite{Name: "kubectl", Binaries: []string{"kubectl"}, BeforeStart: func() {
	_ = agentSpec("").RemoveAll(context.Background()) // leftovers of a killed earlier run
}}

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
