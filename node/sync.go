package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// ctrState is what a worker remembers of one container of its pod across attempts.
type ctrState struct {
	id      string // the current attempt's container; "" when none exists
	attempt int32  // the current (or last) attempt; it is also the restart count
	created bool   // some attempt has been created
	info    ContainerInfo

	waitReason, waitMessage string

	lastTerm    *ContainerInfo // the last attempt that exited
	termMessage string         // why it was stopped, when the agent stopped it
	handled     string         // container ID whose exit has been accounted for
	backoff     time.Duration  // CrashLoopBackOff delay of the pending restart
	restartAt   time.Time
	done        bool // exited and will not be restarted (restart policy)

	pullBackoff time.Duration
	pullRetryAt time.Time

	probes *probeResults // results for the container id (nil before it runs)
}

func (w *podWorker) ctr(name string) *ctrState {
	cs := w.ctrs[name]
	if cs == nil {
		cs = &ctrState{}
		w.ctrs[name] = cs
	}
	return cs
}

// syncRun moves a pod with Desire Run one step towards running and returns when it
// wants to be synced again.
func (w *podWorker) syncRun(ctx context.Context) time.Duration {
	cfg := &w.deps
	if w.failReason != "" {
		return cfg.SyncInterval
	}
	if !w.validated {
		if reason, msg := w.validate(); reason != "" {
			w.failReason, w.failMessage = reason, msg
			w.log.Warn("pod refused", "reason", reason, "message", msg)
			return cfg.SyncInterval
		}
		w.validated = true
	}
	if w.sandbox == nil && w.adopt != nil && len(w.adopt.containers) > 0 {
		w.adoptSandbox()
	}
	if w.sandbox == nil {
		if w.env.podCIDR == "" {
			w.waitReason, w.waitMessage = "WaitingForPodCIDR", "the node has no pod CIDR yet"
			return cfg.SyncInterval
		}
		sb, err := cfg.Runtime.CreateSandbox(ctx, w.sandboxConfig())
		if err != nil {
			w.waitReason, w.waitMessage = "SandboxError", err.Error()
			w.log.Warn("create sandbox", "err", err)
			return cfg.SyncInterval
		}
		w.sandbox = &sb
		if w.startedAt.IsZero() { // a re-created sandbox (SandboxChanged) keeps the pod's start
			w.startedAt = cfg.Clock.Now()
			if w.adopt != nil && w.adopt.sandbox != nil {
				w.startedAt = w.adopt.sandbox.CreatedAt
			}
		}
		w.sandboxAt = cfg.Clock.Now().Add(cfg.SyncInterval)
		w.waitReason, w.waitMessage = "", ""
	}
	if !w.volumesDone {
		if err := w.prepareVolumes(); err != nil {
			w.waitReason, w.waitMessage = "VolumeError", err.Error()
			return cfg.SyncInterval
		}
		w.volumesDone = true
		w.waitReason, w.waitMessage = "", ""
	}
	if w.adopt != nil {
		w.adoptContainers(ctx)
		w.adopt = nil
	}
	now := cfg.Clock.Now()
	if !w.checkSandbox(ctx, now) {
		return 0 // report SandboxChanged, then make the sandbox and the containers again
	}
	next, initDone := w.syncInit(ctx, now)
	if initDone {
		for i := range w.pod.Spec.Containers {
			next = min(next, w.syncContainer(ctx, &w.pod.Spec.Containers[i], w.pod.Spec.RestartPolicy, now))
		}
	}
	w.rotateLogs()
	return max(next, 0)
}

// syncInit runs the init containers one after the other, each to a successful exit,
// and reports whether all have succeeded. A failed init container is retried with
// backoff unless the pod's restartPolicy is Never, which fails the pod (Kubernetes'
// rules: for init containers Always means OnFailure).
func (w *podWorker) syncInit(ctx context.Context, now time.Time) (time.Duration, bool) {
	policy := corev1.RestartPolicyOnFailure
	if w.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		policy = corev1.RestartPolicyNever
	}
	next := w.deps.SyncInterval
	for i := range w.pod.Spec.InitContainers {
		c := &w.pod.Spec.InitContainers[i]
		cs := w.ctr(c.Name)
		if !cs.done {
			next = w.syncContainer(ctx, c, policy, now)
		}
		if !cs.done {
			return next, false
		}
		if code := cs.lastTerm.ExitCode; code != 0 {
			w.failReason = "InitContainerFailed"
			w.failMessage = fmt.Sprintf("init container %q exited with code %d and restartPolicy is Never", c.Name, code)
			return w.deps.SyncInterval, false
		}
	}
	return next, true
}

// adoptContainers takes over what a previous agent left: per container name the
// highest attempt becomes the current one (so attempts continue from it, and a running
// one is not duplicated); older attempts and containers the spec no longer has go.
func (w *podWorker) adoptContainers(ctx context.Context) {
	inSpec := map[string]bool{}
	for _, list := range [][]corev1.Container{w.pod.Spec.InitContainers, w.pod.Spec.Containers} {
		for _, c := range list {
			inSpec[c.Name] = true
		}
	}
	best := map[string]ContainerInfo{}
	var extra []ContainerInfo
	for _, c := range w.adopt.containers {
		b, seen := best[c.Name]
		switch {
		case !inSpec[c.Name]:
			extra = append(extra, c)
		case !seen:
			best[c.Name] = c
		case c.Attempt > b.Attempt:
			extra = append(extra, b)
			best[c.Name] = c
		default:
			extra = append(extra, c)
		}
	}
	for name, c := range best {
		cs := w.ctr(name)
		cs.id, cs.attempt, cs.created, cs.info = c.ID, c.Attempt, true, c
		w.log.Info("adopted container", "container", name, "id", c.ID, "state", c.State)
	}
	rt := w.deps.Runtime
	for _, c := range extra {
		if err := rt.StopContainer(ctx, c.ID, w.gracePeriod()); err != nil {
			w.log.Warn("stop stale container", "id", c.ID, "err", err)
			continue
		}
		if err := rt.RemoveContainer(ctx, c.ID); err != nil {
			w.log.Warn("remove stale container", "id", c.ID, "err", err)
		}
	}
}

// syncContainer drives one container: observe the current attempt, restart it per
// restart policy and backoff, or create the next attempt. It returns when it wants to
// be looked at again.
func (w *podWorker) syncContainer(ctx context.Context, c *corev1.Container, policy corev1.RestartPolicy, now time.Time) time.Duration {
	cfg := &w.deps
	rt := cfg.Runtime
	cs := w.ctr(c.Name)
	if cs.done {
		return cfg.SyncInterval
	}
	if cs.id != "" {
		info, err := rt.ContainerStatus(ctx, cs.id)
		switch {
		case errors.Is(err, ErrNotFound):
			// The runtime lost it (e.g. its state was wiped): count it as a failure.
			info = ContainerInfo{ID: cs.id, PodUID: w.uid, Name: c.Name, Attempt: cs.attempt,
				State: "exited", ExitCode: 255, StartedAt: cs.info.StartedAt, FinishedAt: now}
			cs.termMessage = "the container disappeared from the runtime"
		case err != nil:
			w.log.Warn("container status", "container", c.Name, "err", err)
			return cfg.SyncInterval
		}
		cs.info = info
		switch info.State {
		case "created":
			if err := rt.StartContainer(ctx, cs.id); err != nil {
				cs.waitReason, cs.waitMessage = "RunContainerError", err.Error()
				return cfg.SyncInterval
			}
			return 0 // look at it again right away
		case "running":
			cs.waitReason, cs.waitMessage = "", ""
			w.ensureProbes(ctx, cs, c)
			failed, why := cs.probes.livenessFailed()
			if !failed {
				return cfg.SyncInterval
			}
			w.log.Info("probe failed; restarting container", "container", c.Name, "why", why)
			cs.stopProbes()
			if err := w.stopContainer(ctx, cs.id, c.Name, w.gracePeriod()); err != nil {
				w.log.Warn("stop container", "container", c.Name, "err", err)
				return cfg.SyncInterval
			}
			if cs.info, err = rt.ContainerStatus(ctx, cs.id); err != nil {
				return cfg.SyncInterval
			}
			cs.termMessage = why
			if cs.info.State == "running" {
				return cfg.SyncInterval
			}
		}
		// The attempt has exited.
		cs.stopProbes()
		if cs.handled != cs.id {
			w.accountExit(cs, c, policy, now)
		}
		if cs.done {
			return cfg.SyncInterval
		}
		if now.Before(cs.restartAt) {
			cs.waitReason = api.ReasonCrashLoopBackOff
			cs.waitMessage = fmt.Sprintf("back-off %s restarting failed container %s", cs.backoff, c.Name)
			return cs.restartAt.Sub(now)
		}
		if err := rt.RemoveContainer(ctx, cs.id); err != nil {
			w.log.Warn("remove exited container", "container", c.Name, "err", err)
			return cfg.SyncInterval
		}
		cs.id = ""
	}
	return w.startNext(ctx, cs, c, now)
}

// accountExit records an attempt's exit once and decides about its restart.
func (w *podWorker) accountExit(cs *ctrState, c *corev1.Container, policy corev1.RestartPolicy, now time.Time) {
	cfg := &w.deps
	cs.handled = cs.id
	term := cs.info
	cs.lastTerm = &term
	if !shouldRestart(policy, term.ExitCode) {
		cs.done = true
		w.log.Info("container exited; not restarting", "container", c.Name, "exitCode", term.ExitCode)
		return
	}
	ran := term.FinishedAt.Sub(term.StartedAt)
	if cs.backoff == 0 || ran >= cfg.BackoffReset {
		cs.backoff = cfg.BackoffInitial
	} else {
		cs.backoff = min(2*cs.backoff, cfg.BackoffMax)
	}
	cs.restartAt = now.Add(cs.backoff)
	w.log.Info("container exited; restarting after backoff", "container", c.Name,
		"exitCode", term.ExitCode, "backoff", cs.backoff)
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// startNext pulls the image and creates and starts the container's next attempt.
func (w *podWorker) startNext(ctx context.Context, cs *ctrState, c *corev1.Container, now time.Time) time.Duration {
	cfg := &w.deps
	rt := cfg.Runtime
	if now.Before(cs.pullRetryAt) {
		return cs.pullRetryAt.Sub(now)
	}
	attempt := int32(0)
	if cs.created {
		attempt = cs.attempt + 1
	}
	image, err := rt.EnsureImage(ctx, c.Image, pullPolicy(c))
	if err != nil {
		cs.waitReason, cs.waitMessage = api.ReasonErrImagePull, err.Error()
		if cs.pullBackoff > 0 {
			cs.waitReason = api.ReasonImagePullBackOff
		}
		cs.pullBackoff = min(max(2*cs.pullBackoff, cfg.BackoffInitial), cfg.BackoffMax)
		cs.pullRetryAt = now.Add(cs.pullBackoff)
		w.log.Warn("pull image", "image", c.Image, "err", err, "retry", cs.pullBackoff)
		return cs.pullBackoff
	}
	cs.pullBackoff = 0
	ccfg, err := w.containerConfig(c, attempt, image)
	if err != nil {
		cs.waitReason, cs.waitMessage = "CreateContainerConfigError", err.Error()
		return cfg.SyncInterval
	}
	id, err := rt.CreateContainer(ctx, ccfg)
	if err != nil {
		cs.waitReason, cs.waitMessage = "CreateContainerError", err.Error()
		if errors.Is(err, ErrContainerConfig) {
			cs.waitReason = "CreateContainerConfigError"
		}
		w.log.Warn("create container", "container", c.Name, "err", err)
		return cfg.SyncInterval
	}
	cs.id, cs.attempt, cs.created = id, attempt, true
	cs.info = ContainerInfo{ID: id, PodUID: w.uid, Name: c.Name, Attempt: attempt, State: "created"}
	if err := rt.StartContainer(ctx, id); err != nil {
		cs.waitReason, cs.waitMessage = "RunContainerError", err.Error()
		w.log.Warn("start container", "container", c.Name, "err", err)
		return cfg.SyncInterval
	}
	cs.waitReason, cs.waitMessage, cs.termMessage = "", "", ""
	// postStart runs before the container counts as started; its failure kills the
	// container (which then restarts per the restart policy), as in Kubernetes.
	if l := c.Lifecycle; l != nil && l.PostStart != nil {
		if err := w.runHook(ctx, "postStart", l.PostStart, c, id, w.gracePeriod()); err != nil {
			w.log.Info("postStart hook failed; killing container", "container", c.Name, "err", err)
			if err := rt.StopContainer(ctx, id, w.gracePeriod()); err != nil {
				w.log.Warn("stop container", "container", c.Name, "err", err)
			}
			cs.termMessage = "FailedPostStartHook: " + err.Error()
		}
	}
	return 0 // observe the new attempt right away
}

// pullPolicy is the container's imagePullPolicy with the Kubernetes default.
func pullPolicy(c *corev1.Container) string {
	if c.ImagePullPolicy != "" {
		return string(c.ImagePullPolicy)
	}
	ref := c.Image
	if strings.Contains(ref, "@") {
		return string(corev1.PullIfNotPresent)
	}
	slash := strings.LastIndexByte(ref, '/')
	colon := strings.LastIndexByte(ref, ':')
	if colon <= slash || ref[colon+1:] == "latest" {
		return string(corev1.PullAlways)
	}
	return string(corev1.PullIfNotPresent)
}
