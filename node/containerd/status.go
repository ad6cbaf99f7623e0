package containerd

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"

	"github.com/keelson/keelson/node"
)

// ExitCodeUnknown is reported for a container that was started but whose task is gone
// without a recorded exit (containerd lost it, e.g. the shim was killed). The agent
// treats it as a failure.
const ExitCodeUnknown = -1

// ContainerStatus reports a container's state from its task (live state and exit
// status) and labels (identity, start time, the exit recorded when the task is gone).
func (r *Runtime) ContainerStatus(ctx context.Context, id string) (node.ContainerInfo, error) {
	ctx = r.ctx(ctx)
	c, err := r.loadContainer(ctx, id)
	if err != nil {
		return node.ContainerInfo{}, err
	}
	return r.status(ctx, c)
}

// ListContainers lists every container of this runtime's namespace that Keelson made,
// sorted by ID.
func (r *Runtime) ListContainers(ctx context.Context) ([]node.ContainerInfo, error) {
	ctx = r.ctx(ctx)
	cs, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q", labelPodUID))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]node.ContainerInfo, 0, len(cs))
	for _, c := range cs {
		info, err := r.status(ctx, c)
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (r *Runtime) status(ctx context.Context, c ctrd.Container) (node.ContainerInfo, error) {
	meta, err := c.Info(ctx)
	if err != nil {
		return node.ContainerInfo{}, fmt.Errorf("container %s: %w", c.ID(), err)
	}
	l := meta.Labels
	attempt, _ := strconv.Atoi(l[labelAttempt])
	info := node.ContainerInfo{
		ID:        c.ID(),
		PodUID:    l[labelPodUID],
		Name:      l[labelContainerName],
		Attempt:   int32(attempt),
		Image:     meta.Image,
		LogPath:   l[labelLogPath],
		StartedAt: parseTime(l[labelStartedAt]),
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		switch {
		case l[labelExitCode] != "":
			code, _ := strconv.Atoi(l[labelExitCode])
			info.State, info.ExitCode, info.FinishedAt = "exited", int32(code), parseTime(l[labelFinishedAt])
		case l[labelStartedAt] != "":
			info.State, info.ExitCode = "exited", ExitCodeUnknown
		default:
			info.State = "created"
		}
		return info, nil
	}
	if err != nil {
		return node.ContainerInfo{}, fmt.Errorf("container %s: task: %w", c.ID(), err)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return node.ContainerInfo{}, fmt.Errorf("container %s: task status: %w", c.ID(), err)
	}
	switch st.Status {
	case ctrd.Created:
		info.State = "created"
	case ctrd.Running, ctrd.Paused, ctrd.Pausing:
		info.State = "running"
	case ctrd.Stopped:
		info.State, info.ExitCode, info.FinishedAt = "exited", int32(st.ExitStatus), st.ExitTime.UTC()
	default:
		info.State = "unknown"
	}
	return info, nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
