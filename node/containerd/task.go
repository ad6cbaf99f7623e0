package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"

	"github.com/keelson/keelson/node"
)

// StartContainer starts a created container, its stdout and stderr appended to the
// container's log file by the shim (so logs keep flowing while the agent is down).
// Starting a running container is a no-op; an exited one cannot be started again (the
// agent creates the next attempt instead).
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	defer r.locks.lock("container/" + id)()
	c, err := r.loadContainer(ctx, id)
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	labels, err := c.Labels(ctx)
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	task, err := c.Task(ctx, nil)
	switch {
	case err == nil:
		st, err := task.Status(ctx)
		if err != nil {
			return fmt.Errorf("start container %s: %w", id, err)
		}
		switch st.Status {
		case ctrd.Running, ctrd.Paused, ctrd.Pausing:
			return nil
		case ctrd.Stopped:
			return fmt.Errorf("start container %s: it already exited (code %d)", id, st.ExitStatus)
		}
		// Created by an attempt that died before Start: start it now.
	case errdefs.IsNotFound(err):
		ioc := cio.NullIO
		if p := labels[labelLogPath]; p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("start container %s: log directory: %w", id, err)
			}
			ioc = cio.LogFile(p)
		}
		if task, err = c.NewTask(ctx, ioc); err != nil {
			return fmt.Errorf("start container %s: create task: %w", id, err)
		}
	default:
		return fmt.Errorf("start container %s: %w", id, err)
	}

	// Wait before Start: an exit that happens right after Start must not be missed.
	exitCh, err := task.Wait(r.base)
	if err != nil {
		return fmt.Errorf("start container %s: wait: %w", id, err)
	}
	if err := task.Start(ctx); err != nil {
		if _, derr := task.Delete(context.WithoutCancel(ctx), ctrd.WithProcessKill); derr != nil {
			r.log.Warn("delete task after failed start", "container", id, "err", derr)
		}
		return fmt.Errorf("start container %s: %w", id, err)
	}
	if _, err := c.SetLabels(ctx, map[string]string{labelStartedAt: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		r.log.Warn("record container start", "container", id, "err", err)
	}
	go r.recordExit(c, exitCh)
	return nil
}

// recordExit copies the exit status into the container's labels, where it survives
// the task being deleted and the agent restarting.
func (r *Runtime) recordExit(c ctrd.Container, exitCh <-chan ctrd.ExitStatus) {
	st, ok := <-exitCh
	if !ok || st.Error() != nil {
		return // the runtime is closing; the task's own status still holds the exit
	}
	_, err := c.SetLabels(r.base, map[string]string{
		labelExitCode:   strconv.Itoa(int(st.ExitCode())),
		labelFinishedAt: st.ExitTime().UTC().Format(time.RFC3339Nano),
	})
	if err != nil && !errdefs.IsNotFound(err) && r.base.Err() == nil {
		r.log.Warn("record container exit", "container", c.ID(), "err", err)
	}
}

// StopContainer sends SIGTERM, waits up to grace for the exit, then SIGKILL. A
// container killed by a signal reports 128+signal (137 for SIGKILL).
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	ctx = r.ctx(ctx)
	task, err := r.loadTask(ctx, id)
	if errors.Is(err, node.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	if st.Status == ctrd.Stopped {
		return nil
	}
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	exitCh, err := task.Wait(waitCtx)
	if err != nil {
		return fmt.Errorf("stop container %s: wait: %w", id, err)
	}
	if grace > 0 {
		if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("stop container %s: SIGTERM: %w", id, err)
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-exitCh:
			return nil
		case <-timer.C:
		case <-ctx.Done():
			return fmt.Errorf("stop container %s: %w", id, ctx.Err())
		}
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: SIGKILL: %w", id, err)
	}
	select {
	case <-exitCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop container %s: waiting after SIGKILL: %w", id, ctx.Err())
	}
}

// RemoveContainer deletes the container's task (killing it if it still runs), the
// container and its snapshot. The log file stays: it belongs to the agent.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	defer r.locks.lock("container/" + id)()
	c, err := r.loadContainer(ctx, id)
	if errors.Is(err, node.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if task, err := c.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, ctrd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove container %s: delete task: %w", id, err)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	if err := c.Delete(ctx, ctrd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// Exec runs cmd in the container (same user, environment and namespaces as its main
// process) and returns the exit code. Output is discarded. When ctx ends first (a
// probe's timeout) the process is killed.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (int, error) {
	if len(cmd) == 0 {
		return 0, errors.New("exec: empty command")
	}
	ctx = r.ctx(ctx)
	c, err := r.loadContainer(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = false
	execID, err := randomID("exec-")
	if err != nil {
		return 0, err
	}
	proc, err := task.Exec(ctx, execID, &pspec, cio.NullIO)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	cleanup := context.WithoutCancel(ctx)
	defer func() {
		if _, err := proc.Delete(cleanup, ctrd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			r.log.Warn("delete exec process", "container", id, "exec", execID, "err", err)
		}
	}()
	waitCtx, cancel := context.WithCancel(cleanup)
	defer cancel()
	exitCh, err := proc.Wait(waitCtx)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: wait: %w", id, err)
	}
	if err := proc.Start(ctx); err != nil {
		return 0, fmt.Errorf("exec in %s: start %q: %w", id, cmd[0], err)
	}
	select {
	case st := <-exitCh:
		if err := st.Error(); err != nil {
			return 0, fmt.Errorf("exec in %s: %w", id, err)
		}
		return int(st.ExitCode()), nil
	case <-ctx.Done():
		_ = proc.Kill(cleanup, syscall.SIGKILL)
		return 0, fmt.Errorf("exec in %s: %w", id, ctx.Err())
	}
}

func (r *Runtime) loadContainer(ctx context.Context, id string) (ctrd.Container, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("container %s: %w", id, node.ErrNotFound)
	}
	return c, err
}

func (r *Runtime) loadTask(ctx context.Context, id string) (ctrd.Task, error) {
	c, err := r.loadContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("task %s: %w", id, node.ErrNotFound)
	}
	return task, err
}

func randomID(prefix string) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}
