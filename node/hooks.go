package node

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// runHook runs a lifecycle handler (exec inside the container, or httpGet to the pod)
// within limit. It reuses the prober's handlers, so a hook reaches the container
// exactly as a probe of the same shape would.
func (w *podWorker) runHook(ctx context.Context, name string, h *corev1.LifecycleHandler, c *corev1.Container, id string, limit time.Duration) error {
	if h == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet}}
	t := ProbeTarget{ContainerID: id, Container: c}
	if w.sandbox != nil {
		t.PodIP = w.sandbox.IP
	}
	if err := w.deps.Prober.Probe(ctx, t, probe); err != nil {
		return fmt.Errorf("%s hook: %w", name, err)
	}
	return nil
}

// specContainer finds a container of the pod's spec by name (nil for an orphan).
func (w *podWorker) specContainer(name string) *corev1.Container {
	if w.pod == nil {
		return nil
	}
	for _, list := range [][]corev1.Container{w.pod.Spec.InitContainers, w.pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// stopContainer stops a running container the Kubernetes way: its preStop hook runs
// first, inside the grace period, then SIGTERM with what is left of the grace period
// (at least 2 "seconds", as the kubelet grants), then SIGKILL.
func (w *podWorker) stopContainer(ctx context.Context, id, name string, grace time.Duration) error {
	if c := w.specContainer(name); c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		start := w.deps.Clock.Now()
		if err := w.runHook(ctx, "preStop", c.Lifecycle.PreStop, c, id, grace); err != nil {
			w.log.Warn("preStop hook failed", "container", name, "err", err)
		}
		grace = max(grace-w.deps.Clock.Now().Sub(start), 2*w.deps.SpecSecond)
	}
	return w.deps.Runtime.StopContainer(ctx, id, grace)
}
