package harness

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
)

// Suite is the shared state of an end-to-end test package: the environment its
// TestMain prepared (containerd, registry, binary, image) or why this machine cannot
// run it, and the teardowns to run if the run is interrupted.
type Suite struct {
	Name string // for messages: "e2e", "multinode"
	// Binaries the package needs beyond the common ones (e.g. nsenter).
	Binaries []string
	// BeforeStart runs before the environment starts (e.g. removing leftovers of a
	// killed earlier run); nil: nothing.
	BeforeStart func()

	env     *Env
	missing string

	mu       sync.Mutex
	cleanups map[int]func()
	next     int
}

// Run is a package's TestMain body: it prepares the environment (or records why it
// cannot), runs the tests, and stops everything even on SIGINT/SIGTERM.
func (s *Suite) Run(m *testing.M) int {
	if s.missing = s.lacking(); s.missing != "" {
		return m.Run() // every test skips (or fails under CI=true) with the reason
	}
	if s.BeforeStart != nil {
		s.BeforeStart()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env, err := StartEnv(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: prepare the environment: %v\n", s.Name, err)
		return 1
	}
	s.env = env
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "%s: interrupted: stopping clusters and daemons\n", s.Name)
			s.runCleanups()
			env.Close()
			os.Exit(2)
		case <-done:
		}
	}()
	code := m.Run()
	close(done)
	s.runCleanups()
	env.Close()
	return code
}

// lacking says what this machine lacks for the suite ("" when nothing).
func (s *Suite) lacking() string {
	if os.Geteuid() != 0 {
		return "the " + s.Name + " suite needs root"
	}
	bins := append([]string{"containerd", "ctr", "runc", "docker-registry", "git", "nft", "ip", "go"}, s.Binaries...)
	for _, b := range bins {
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

// Require skips (locally) or fails (CI=true) a test when the suite cannot run, and
// returns the prepared environment otherwise.
func (s *Suite) Require(t *testing.T) *Env {
	t.Helper()
	if s.missing != "" {
		testenv.Missing(t, s.missing)
	}
	if s.env == nil {
		t.Fatal(s.Name + " environment not prepared")
	}
	return s.env
}

// OnInterrupt registers fn to run if the suite is interrupted; the returned func
// unregisters it once the test has run it itself.
func (s *Suite) OnInterrupt(fn func()) (unregister func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cleanups == nil {
		s.cleanups = map[int]func(){}
	}
	id := s.next
	s.next++
	s.cleanups[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.cleanups, id)
	}
}

func (s *Suite) runCleanups() {
	s.mu.Lock()
	fns := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
