package node

import (
	"fmt"
	"sort"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// status is the pod as the worker sees it now, in the Kubernetes vocabulary: Pending
// until every container has started once, Running while any runs or will be
// restarted, Succeeded/Failed when all exited for good.
func (w *podWorker) status() api.PodStatus {
	st := api.PodStatus{StartedAt: w.startedAt, ObservedAt: w.deps.Clock.Now()}
	if w.sandbox != nil {
		st.PodIP = w.sandbox.IP
	}
	var pending, done, failed int
	allReady := true
	for _, name := range w.containerNames() {
		s := w.containerStatus(name)
		switch {
		case s.State == api.ContainerTerminated:
			done++
			if s.ExitCode != 0 {
				failed++
			}
		case s.State == api.ContainerWaiting && w.ctrs[name] == nil, s.State == api.ContainerWaiting && w.ctrs[name].lastTerm == nil:
			pending++
		}
		allReady = allReady && s.Ready
		st.Containers = append(st.Containers, s)
	}
	initDone, initReason, initMessage := w.initStatus(&st)
	if !initDone {
		for i := range st.Containers { // as the kubelet words it while init runs
			if c := &st.Containers[i]; c.State == api.ContainerWaiting && c.Reason == api.ReasonContainerCreating {
				c.Reason = "PodInitializing"
			}
		}
	}
	switch {
	case w.failReason != "":
		st.Phase, st.Reason, st.Message = corev1.PodFailed, w.failReason, w.failMessage
	case w.sandbox != nil && !initDone:
		st.Phase, st.Reason, st.Message = corev1.PodPending, initReason, initMessage
	case w.sandbox == nil || pending > 0:
		st.Phase, st.Reason, st.Message = corev1.PodPending, w.waitReason, w.waitMessage
	case len(st.Containers) > 0 && done == len(st.Containers) && failed > 0:
		st.Phase = corev1.PodFailed
	case len(st.Containers) > 0 && done == len(st.Containers):
		st.Phase = corev1.PodSucceeded
	default:
		st.Phase = corev1.PodRunning
	}
	st.Ready = st.Phase == corev1.PodRunning && allReady && len(st.Containers) > 0
	return st
}

// containerNames lists the spec's containers, or for a pod without a spec (an orphan
// found in the runtime) the ones the worker has seen.
func (w *podWorker) containerNames() []string {
	if w.pod != nil {
		names := make([]string, len(w.pod.Spec.Containers))
		for i, c := range w.pod.Spec.Containers {
			names[i] = c.Name
		}
		return names
	}
	names := make([]string, 0, len(w.ctrs))
	for n := range w.ctrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (w *podWorker) containerStatus(name string) api.ContainerStatus {
	s := api.ContainerStatus{Name: name, State: api.ContainerWaiting, Reason: api.ReasonContainerCreating}
	if c := w.specContainer(name); c != nil {
		s.Image = c.Image
	}
	cs := w.ctrs[name]
	if cs == nil {
		return s
	}
	s.RestartCount = cs.attempt
	s.ContainerID = cs.id
	if cs.lastTerm != nil {
		s.ExitCode = cs.lastTerm.ExitCode
		s.FinishedAt = cs.lastTerm.FinishedAt
		s.StartedAt = cs.lastTerm.StartedAt
		s.Message = cs.termMessage
	}
	switch {
	case cs.done && cs.lastTerm != nil:
		s.State, s.Reason = api.ContainerTerminated, terminationReason(cs.lastTerm.ExitCode)
		s.ContainerID = cs.lastTerm.ID
	case cs.id != "" && cs.info.State == "running":
		s.State, s.Reason, s.Message = api.ContainerRunning, "", ""
		s.StartedAt, s.FinishedAt, s.ExitCode = cs.info.StartedAt, cs.info.FinishedAt, 0
		s.Ready = cs.probes.isReady()
	case cs.waitReason != "":
		s.Reason, s.Message = cs.waitReason, cs.waitMessage
		if cs.lastTerm != nil && cs.termMessage != "" {
			s.Message += " (last exit: " + cs.termMessage + ")"
		}
	}
	return s
}

// terminationReason follows Kubernetes: Completed for 0, Error otherwise. (OOMKilled
// would need the runtime to say so; ContainerInfo does not carry it.)
func terminationReason(code int32) string {
	if code == 0 {
		return "Completed"
	}
	return "Error"
}

// initStatus fills in the init containers' statuses and says whether all have
// succeeded; if not, the pod's reason in kubectl's words: Init:N/M while they run,
// Init:<reason> when the current one waits (Init:CrashLoopBackOff).
func (w *podWorker) initStatus(st *api.PodStatus) (done bool, reason, message string) {
	if w.pod == nil || len(w.pod.Spec.InitContainers) == 0 {
		return true, "", ""
	}
	total, succeeded := len(w.pod.Spec.InitContainers), 0
	for _, c := range w.pod.Spec.InitContainers {
		s := w.containerStatus(c.Name)
		s.Ready = s.State == api.ContainerTerminated && s.ExitCode == 0
		st.InitContainers = append(st.InitContainers, s)
		if s.Ready {
			succeeded++
			continue
		}
		if reason == "" {
			reason = fmt.Sprintf("Init:%d/%d", succeeded, total)
			if s.State == api.ContainerWaiting && s.Reason != "" && s.Reason != api.ReasonContainerCreating {
				reason, message = "Init:"+s.Reason, s.Message
			}
		}
	}
	return succeeded == total, reason, message
}
