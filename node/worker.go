package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keelson/keelson/api"
)

// podUpdate is what the manager tells a worker: the newest record of its pod (nil for
// a pod the view no longer lists) and whether to stop it.
type podUpdate struct {
	pod  *api.PodRecord
	env  viewEnv
	stop bool
}

// podWorker owns one pod UID: it drives the runtime towards the pod's desired state,
// one sync at a time, and reports what it observes. Everything below the channels is
// touched only by the worker's goroutine, so the state machine needs no locks; probe
// goroutines talk back through probeResults and a poke.
type podWorker struct {
	deps    workerDeps
	log     *slog.Logger
	uid     string
	updates chan podUpdate // size 1: a newer update replaces an unread one
	poke    chan struct{}  // size 1: "something changed, sync now" (probes)
	probeWG sync.WaitGroup

	pod         *api.PodRecord
	env         viewEnv
	stopping    bool
	adopt       *adoption // what the runtime held at agent start, consumed by the first sync
	validated   bool
	failReason  string // a permanent failure of the pod (e.g. hostPath not allowed)
	failMessage string
	waitReason  string // why the pod has no sandbox yet
	waitMessage string
	volumesDone bool
	sandbox     *Sandbox
	sandboxAt   time.Time // when the sandbox's health is checked next (sandboxhealth.go)
	startedAt   time.Time
	ctrs        map[string]*ctrState
}

func newPodWorker(deps workerDeps, uid string, ad *adoption) *podWorker {
	return &podWorker{
		deps: deps, uid: uid, log: deps.Log.With("pod", uid), adopt: ad,
		updates: make(chan podUpdate, 1), poke: make(chan struct{}, 1),
		ctrs: map[string]*ctrState{},
	}
}

// update hands u to the worker, replacing an update it has not read yet. Only the
// manager calls it (under its lock), so the drain-then-send loop cannot race another
// sender.
func (w *podWorker) update(u podUpdate) {
	for {
		select {
		case w.updates <- u:
			return
		default:
		}
		select {
		case <-w.updates:
		default:
		}
	}
}

func (w *podWorker) wake() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// run is the worker's goroutine. It returns true once the pod is stopped, cleaned up
// and reported Gone, false when ctx ended first (the agent is shutting down: the pod
// keeps running for the next agent to adopt).
func (w *podWorker) run(ctx context.Context) bool {
	defer func() {
		w.stopAllProbes()
		w.probeWG.Wait()
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case u := <-w.updates:
			if u.pod != nil {
				w.pod = u.pod
			}
			w.env = u.env
			w.stopping = w.stopping || u.stop
		case <-w.poke:
		case <-timer.C:
		}
		if w.stopping {
			if err := w.terminate(ctx); err != nil {
				if ctx.Err() != nil {
					return false
				}
				w.log.Warn("stopping pod failed; will retry", "err", err)
				w.report(false)
				timer.Reset(w.deps.SyncInterval)
				continue
			}
			w.report(true)
			w.log.Info("pod stopped and cleaned up")
			return true
		}
		if w.pod == nil {
			continue
		}
		next := w.syncRun(ctx)
		w.report(false)
		timer.Reset(next)
	}
}

func (w *podWorker) report(gone bool) {
	w.deps.Report(api.PodStatusReport{UID: w.uid, Node: w.deps.NodeName, Status: w.status(), Gone: gone})
}

func (w *podWorker) podDir() string { return filepath.Join(w.deps.DataDir, "pods", w.uid) }

// gracePeriod is the pod's terminationGracePeriodSeconds (default 30).
func (w *podWorker) gracePeriod() time.Duration {
	secs := int64(30)
	if w.pod != nil && w.pod.Spec.TerminationGracePeriodSeconds != nil {
		secs = *w.pod.Spec.TerminationGracePeriodSeconds
	}
	return time.Duration(secs) * w.deps.SpecSecond
}

// terminate stops every container of the pod (in parallel, each with the grace period),
// removes them, the sandbox and the pod's directory. It asks the runtime what exists
// rather than trusting the worker's memory, so leftovers of a crashed agent go too.
func (w *podWorker) terminate(ctx context.Context) error {
	w.stopAllProbes()
	rt := w.deps.Runtime
	mine, err := w.stopPodContainers(ctx)
	if err != nil {
		return err
	}
	for _, c := range mine {
		info, err := rt.ContainerStatus(ctx, c.ID)
		if err == nil {
			w.recordFinal(info)
		}
		if err := rt.RemoveContainer(ctx, c.ID); err != nil {
			return fmt.Errorf("remove %s: %w", c.Name, err)
		}
	}
	if err := rt.RemoveSandbox(ctx, w.uid); err != nil {
		return fmt.Errorf("remove sandbox: %w", err)
	}
	if err := os.RemoveAll(w.podDir()); err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	return nil
}

// stopPodContainers stops every running container of the pod the runtime holds, in
// parallel, each with the grace period, and returns them all (running or not).
func (w *podWorker) stopPodContainers(ctx context.Context) ([]ContainerInfo, error) {
	all, err := w.deps.Runtime.ListContainers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var mine []ContainerInfo
	for _, c := range all {
		if c.PodUID == w.uid {
			mine = append(mine, c)
		}
	}
	grace := w.gracePeriod()
	errs := make([]error, len(mine))
	var wg sync.WaitGroup
	for i, c := range mine {
		if c.State != "running" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.stopContainer(ctx, c.ID, c.Name, grace); err != nil {
				errs[i] = fmt.Errorf("stop %s: %w", c.Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return mine, nil
}

// recordFinal keeps the last state of a stopped container for the final report.
func (w *podWorker) recordFinal(info ContainerInfo) {
	cs := w.ctr(info.Name)
	if cs.created && info.Attempt < cs.attempt {
		return
	}
	cs.id, cs.attempt, cs.created, cs.info = "", info.Attempt, true, info
	cs.lastTerm, cs.done = &info, true
	cs.waitReason = ""
}
