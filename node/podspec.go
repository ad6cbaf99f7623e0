package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// validate refuses, once and with a clear reason, what this node will not run. The
// servers validate manifests too, but the node enforces its own operator's policy
// (hostPath prefixes, privileged) and must not half-run a pod it cannot honor.
func (w *podWorker) validate() (reason, message string) {
	spec := &w.pod.Spec
	if len(spec.InitContainers) > 0 || len(spec.EphemeralContainers) > 0 {
		return "Unsupported", "init and ephemeral containers are not supported"
	}
	if len(spec.Containers) == 0 {
		return "InvalidSpec", "the pod has no containers"
	}
	vols := map[string]bool{}
	for _, v := range spec.Volumes {
		vols[v.Name] = true
		switch {
		case v.EmptyDir != nil:
			if v.EmptyDir.Medium != corev1.StorageMediumDefault {
				return "UnsupportedVolume", fmt.Sprintf("volume %q: emptyDir medium %q is not supported", v.Name, v.EmptyDir.Medium)
			}
		case v.HostPath != nil:
			if !hostPathAllowed(v.HostPath.Path, w.a.cfg.AllowedHostPaths) {
				return "HostPathNotAllowed", fmt.Sprintf("volume %q: hostPath %q is not under a prefix this node allows (%s)",
					v.Name, v.HostPath.Path, allowedList(w.a.cfg.AllowedHostPaths))
			}
		default:
			return "UnsupportedVolume", fmt.Sprintf("volume %q: only emptyDir and hostPath volumes are supported", v.Name)
		}
	}
	for _, c := range spec.Containers {
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged && !w.a.cfg.AllowPrivileged {
			return "PrivilegedNotAllowed", fmt.Sprintf("container %q: privileged containers are not allowed on this node", c.Name)
		}
		for _, m := range c.VolumeMounts {
			if !vols[m.Name] {
				return "InvalidSpec", fmt.Sprintf("container %q: volumeMount %q names no volume of the pod", c.Name, m.Name)
			}
			if m.SubPath != "" || m.SubPathExpr != "" {
				return "Unsupported", fmt.Sprintf("container %q: volumeMount %q: subPath is not supported", c.Name, m.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				return "Unsupported", fmt.Sprintf("container %q: env %q: valueFrom is not supported", c.Name, e.Name)
			}
		}
		if len(c.EnvFrom) > 0 {
			return "Unsupported", fmt.Sprintf("container %q: envFrom is not supported", c.Name)
		}
	}
	return "", ""
}

// hostPathAllowed reports whether p is one of the prefixes or below one, comparing
// whole path elements ("/data" allows "/data/x", not "/database") on cleaned paths
// (so "/data/../etc" is refused).
func hostPathAllowed(p string, prefixes []string) bool {
	if !filepath.IsAbs(p) {
		return false
	}
	p = filepath.Clean(p)
	for _, pre := range prefixes {
		pre = filepath.Clean(pre)
		if pre == "/" || p == pre || strings.HasPrefix(p, pre+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func allowedList(prefixes []string) string {
	if len(prefixes) == 0 {
		return "none: hostPath is disabled"
	}
	return strings.Join(prefixes, ", ")
}

func (w *podWorker) volumeDir(name string) string {
	return filepath.Join(w.podDir(), "volumes", name)
}

// prepareVolumes creates the emptyDir directories (world-writable, as Kubernetes
// does, since the container may run as any user) and DirectoryOrCreate host paths.
func (w *podWorker) prepareVolumes() error {
	for _, v := range w.pod.Spec.Volumes {
		switch {
		case v.EmptyDir != nil:
			dir := w.volumeDir(v.Name)
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return fmt.Errorf("emptyDir %s: %w", v.Name, err)
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				return fmt.Errorf("emptyDir %s: %w", v.Name, err)
			}
		case v.HostPath != nil && v.HostPath.Type != nil && *v.HostPath.Type == corev1.HostPathDirectoryOrCreate:
			if err := os.MkdirAll(v.HostPath.Path, 0o755); err != nil {
				return fmt.Errorf("hostPath %s: %w", v.Name, err)
			}
		}
	}
	return nil
}

func (w *podWorker) sandboxConfig() SandboxConfig {
	cfg := SandboxConfig{PodUID: w.uid, Namespace: w.pod.Namespace, Name: w.pod.Name, PodCIDR: w.env.podCIDR}
	for _, c := range w.pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			cfg.HostPorts = append(cfg.HostPorts, PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto})
		}
	}
	return cfg
}

// containerConfig turns a container of the spec into the runtime's ContainerConfig.
func (w *podWorker) containerConfig(c *corev1.Container, attempt int32, image string) (ContainerConfig, error) {
	env := containerEnv(c, w.pod.Namespace, w.env.services)
	lookup := envLookup(env)
	cfg := ContainerConfig{
		PodUID: w.uid, PodNamespace: w.pod.Namespace, PodName: w.pod.Name,
		Name: c.Name, Attempt: attempt, Image: image,
		Command: expandAll(c.Command, lookup), Args: expandAll(c.Args, lookup),
		Env: env, WorkingDir: c.WorkingDir, NetNSPath: w.sandbox.NetNSPath,
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		cfg.MilliCPULimit = q.MilliValue()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		cfg.MemoryLimit = q.Value()
	}
	for _, m := range c.VolumeMounts {
		for _, v := range w.pod.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			host := w.volumeDir(v.Name)
			if v.HostPath != nil {
				host = v.HostPath.Path
			}
			cfg.Mounts = append(cfg.Mounts, Mount{HostPath: host, ContainerPath: m.MountPath, ReadOnly: m.ReadOnly})
		}
	}
	if err := w.addPodDNS(&cfg); err != nil {
		return cfg, err
	}
	logDir := filepath.Join(w.podDir(), "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return cfg, fmt.Errorf("log directory: %w", err)
	}
	cfg.LogPath = filepath.Join(logDir, fmt.Sprintf("%s-%d.log", c.Name, attempt))
	return cfg, nil
}
