// Package devenv starts and stops the real processes a Keelson cluster is made of on one
// machine (servers, agents, containerd, a registry), for `keelson dev` and for the
// end-to-end tests: it keeps their logs and stops or kills them with real signals.
package devenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Proc is one long-running child process with its output in a log file.
type Proc struct {
	Name    string
	Bin     string
	Args    []string
	Env     []string
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start launches the process (again, after a kill); its output goes to LogPath.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !p.exited() {
		return fmt.Errorf("%s already running", p.Name)
	}
	if err := os.MkdirAll(filepath.Dir(p.LogPath), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== %s start %s: %s %v\n", p.Name, time.Now().Format(time.RFC3339Nano), p.Bin, p.Args)
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	done := make(chan struct{})
	// Bound to this process (startBound): a server or agent never outlives the test
	// or the `keelson dev` that started it, even when that one is SIGKILLed.
	err = startBound(cmd, func(err error) {
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	})
	if err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd, p.done, p.err = cmd, done, nil
	return nil
}

func (p *Proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !p.exited()
}

// Kill sends SIGKILL (a crash: no cleanup, no graceful shutdown) and waits for exit.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits up to grace, then SIGKILL.
func (p *Proc) Stop(grace time.Duration) {
	if !p.signal(syscall.SIGTERM, grace) {
		p.Kill()
	}
}

// signal delivers sig and reports whether the process exited within wait.
func (p *Proc) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// Pid returns the process id of the running process (0 when not started).
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Tail returns the last n bytes of the process log.
func (p *Proc) Tail(n int64) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(buf, off)
	return string(buf)
}

// WaitFiles waits until every path exists, failing early when p exits: a child that
// writes files at startup (a bootstrapping server's CA and tokens) is ready for the
// processes that read them.
func WaitFiles(p *Proc, timeout time.Duration, paths ...string) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var missing error
		for _, path := range paths {
			if _, err := os.Stat(path); err != nil {
				missing = err
				break
			}
		}
		if missing == nil {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("%s exited before writing its files: %s", p.Name, p.Tail(4000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not written within %s: %w", p.Name, timeout, missing)
		}
		<-tick.C
	}
}
