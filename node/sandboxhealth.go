package node

import (
	"context"
	"fmt"
	"time"
)

// ReasonSandboxChanged is the pod's reason while its broken sandbox is being made
// again, and the prefix of its containers' last-exit message (the kubelet's event).
const ReasonSandboxChanged = "SandboxChanged"

// checkSandbox asks the runtime, at most once per SyncInterval, whether the pod's
// network still exists (its namespace, its veth, the bridge: something outside the
// agent may have destroyed them while the containers kept running, unreachable). When
// it does not, the pod is healed as the kubelet does on SandboxChanged: its containers
// are stopped and removed, the sandbox is removed (CNI DEL releases the address even
// without the namespace) and checkSandbox returns false; the next sync creates a new
// sandbox and the next attempt of every container (restart counts go up, init
// containers run again). A check that fails to run is logged and changes nothing.
func (w *podWorker) checkSandbox(ctx context.Context, now time.Time) bool {
	if w.sandbox == nil || now.Before(w.sandboxAt) || !w.anyToRun() {
		return true
	}
	w.sandboxAt = now.Add(w.deps.SyncInterval)
	ok, why, err := w.deps.Runtime.SandboxHealthy(ctx, w.uid)
	if err != nil {
		w.log.Warn("sandbox health check", "err", err)
		return true
	}
	if ok {
		return true
	}
	w.log.Warn("pod sandbox changed; killing the pod's containers and re-creating its sandbox", "why", why)
	w.waitReason = ReasonSandboxChanged
	w.waitMessage = fmt.Sprintf("pod sandbox changed (%s), it will be killed and re-created", why)
	if err := w.killForNewSandbox(ctx, why); err != nil {
		w.log.Warn("re-creating the pod's sandbox failed; will retry", "err", err)
		w.waitMessage += ": " + err.Error()
		w.sandboxAt = time.Time{} // retry on the next sync
		return false
	}
	w.sandbox = nil
	return false
}

// anyToRun reports whether some container of the pod runs or will run again: a pod
// whose containers all exited for good needs no network.
func (w *podWorker) anyToRun() bool {
	for _, c := range w.pod.Spec.Containers {
		if cs := w.ctrs[c.Name]; cs == nil || !cs.done {
			return true
		}
	}
	return false
}

// killForNewSandbox stops and removes every container of the pod, accounting each
// current attempt as exited for the sandbox change (so the next attempt starts at once,
// without crash-loop backoff), and removes the sandbox.
func (w *podWorker) killForNewSandbox(ctx context.Context, why string) error {
	w.stopAllProbes()
	rt := w.deps.Runtime
	mine, err := w.stopPodContainers(ctx)
	if err != nil {
		return err
	}
	isInit := map[string]bool{}
	for _, c := range w.pod.Spec.InitContainers {
		isInit[c.Name] = true
	}
	policy := w.pod.Spec.RestartPolicy
	for _, c := range mine {
		if cs := w.ctrs[c.Name]; cs != nil && cs.id == c.ID {
			if info, err := rt.ContainerStatus(ctx, c.ID); err == nil {
				cs.info = info
			}
			if cs.handled != cs.id {
				term := cs.info
				cs.lastTerm, cs.handled = &term, cs.id
				cs.termMessage = ReasonSandboxChanged + ": " + why
				// A killed regular container follows its restart policy (with Never the
				// pod ends Failed, as in Kubernetes); init containers run again below.
				if !isInit[c.Name] && !shouldRestart(policy, term.ExitCode) {
					cs.done = true
				}
			}
		}
		if err := rt.RemoveContainer(ctx, c.ID); err != nil {
			return fmt.Errorf("remove %s: %w", c.Name, err)
		}
		if cs := w.ctrs[c.Name]; cs != nil && cs.id == c.ID {
			cs.id, cs.restartAt = "", time.Time{}
		}
	}
	// The new sandbox runs the init containers again before the others (Kubernetes).
	for name := range isInit {
		if cs := w.ctrs[name]; cs != nil {
			cs.done, cs.id = false, ""
		}
	}
	if err := rt.RemoveSandbox(ctx, w.uid); err != nil {
		return fmt.Errorf("remove sandbox: %w", err)
	}
	return nil
}

// adoptSandbox takes over the sandbox a previous agent made for containers that are
// still there, instead of asking CreateSandbox for one. CreateSandbox replaces a
// namespace that is gone with a new one, so the adopted containers would keep running
// in the dead one, unreachable, while every later check found the new one healthy.
// Here the first checkSandbox runs at once (after adoptContainers) and, when the
// adopted sandbox is broken or has no record at all, heals the pod as for any
// SandboxChanged: the adopted containers are killed, the sandbox is made again.
func (w *podWorker) adoptSandbox() {
	sb := Sandbox{PodUID: w.uid} // no record: SandboxHealthy says so and the pod is healed
	if w.adopt.sandbox != nil {
		sb = *w.adopt.sandbox
	}
	w.sandbox = &sb
	w.startedAt = sb.CreatedAt
	if w.startedAt.IsZero() {
		w.startedAt = w.deps.Clock.Now()
	}
	w.sandboxAt = time.Time{}
}
