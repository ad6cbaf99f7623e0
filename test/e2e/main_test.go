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
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"

	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/test/harness"
)

// suite is what TestMain prepared for the tests.
type suite struct {
	env     *harness.Env
	missing string // why the suite cannot run here ("" when it can)

	mu       sync.Mutex
	cleanups map[int]func() // running clusters, stopped on SIGINT/SIGTERM
	next     int
}

// shared is set once by TestMain before any test runs and only read afterwards
// (apart from the cleanup registry, which has its own lock).
var shared = &suite{cleanups: map[int]func(){}}

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	if shared.missing = missing(); shared.missing != "" {
		return m.Run() // every test skips (or fails under CI=true) with the reason
	}
	for _, s := range agentSpecs("") {
		_ = s.RemoveAll(context.Background()) // leftovers of a killed earlier run
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := harness.StartEnv(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: prepare the environment: %v\n", err)
		return 1
	}
	shared.env = env
	// A signal (Ctrl-C, CI cancelling) still stops every process and daemon we started.
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "e2e: interrupted: stopping clusters and daemons")
			shared.runCleanups()
			env.Close()
			os.Exit(2)
		case <-done:
		}
	}()
	code := m.Run()
	close(done)
	shared.runCleanups()
	env.Close()
	return code
}

// missing says what this machine lacks for the suite ("" when nothing).
func missing() string {
	if os.Geteuid() != 0 {
		return "the end-to-end suite needs root"
	}
	for _, b := range []string{"containerd", "ctr", "runc", "docker-registry", "git", "nft", "ip", "go"} {
		if _, err := exec.LookPath(b); err != nil {
			return b + " is not installed"
		}
	}
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat("/usr/lib/cni/" + p); err != nil {
			return "CNI plugin /usr/lib/cni/" + p + " is missing"
		}
	}
	return ""
}

// requireSuite skips (locally) or fails (CI=true) a test when the suite cannot run.
func requireSuite(t *testing.T) *harness.Env {
	t.Helper()
	if shared.missing != "" {
		testenv.Missing(t, shared.missing)
	}
	if shared.env == nil {
		t.Fatal("e2e environment not prepared")
	}
	return shared.env
}

// onInterrupt registers fn to run if the suite is interrupted; the returned func
// unregisters it (after the test ran it itself).
func (s *suite) onInterrupt(fn func()) (unregister func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.cleanups[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.cleanups, id)
	}
}

func (s *suite) runCleanups() {
	s.mu.Lock()
	fns := s.cleanups
	s.cleanups = map[int]func(){}
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
