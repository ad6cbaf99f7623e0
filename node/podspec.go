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
	if len(spec.EphemeralContainers) > 0 {
		return "Unsupported", "ephemeral containers are not supported"
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
			if !hostPathAllowed(v.HostPath.Path, w.deps.AllowedHostPaths) {
				return "HostPathNotAllowed", fmt.Sprintf("volume %q: hostPath %q is not under a prefix this node allows (%s)",
					v.Name, v.HostPath.Path, allowedList(w.deps.AllowedHostPaths))
			}
		case v.DownwardAPI != nil:
		default:
			return "UnsupportedVolume", fmt.Sprintf("volume %q: only emptyDir, hostPath and downwardAPI volumes are supported", v.Name)
		}
	}
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range list {
			if reason, msg := securityRefusal(&c, w.deps.AllowPrivileged, w.deps.AllowCapabilities); reason != "" {
				return reason, msg
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
				if f := e.ValueFrom; f != nil && f.FieldRef == nil && f.ResourceFieldRef == nil {
					return "Unsupported", fmt.Sprintf("container %q: env %q: only fieldRef and resourceFieldRef are supported", c.Name, e.Name)
				}
			}
			if len(c.EnvFrom) > 0 {
				return "Unsupported", fmt.Sprintf("container %q: envFrom is not supported", c.Name)
			}
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
// does, since the container may run as any user; with fsGroup group-owned by it and
// setgid, so files made inside inherit the group), the downwardAPI files, and
// DirectoryOrCreate host paths.
func (w *podWorker) prepareVolumes() error {
	var fsGroup *int64
	if sc := w.pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	for _, v := range w.pod.Spec.Volumes {
		switch {
		case v.EmptyDir != nil, v.DownwardAPI != nil:
			dir := w.volumeDir(v.Name)
			mode := os.FileMode(0o777)
			if v.DownwardAPI != nil {
				mode = 0o755
			}
			if err := os.MkdirAll(dir, mode); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if fsGroup != nil {
				if err := os.Chown(dir, -1, int(*fsGroup)); err != nil {
					return fmt.Errorf("volume %s: fsGroup: %w", v.Name, err)
				}
				mode |= os.ModeSetgid
			}
			if err := os.Chmod(dir, mode); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if v.DownwardAPI != nil {
				if err := writeDownwardVolume(dir, v.DownwardAPI, w.facts(), fsGroup); err != nil {
					return fmt.Errorf("downwardAPI volume %s: %w", v.Name, err)
				}
			}
		case v.HostPath != nil && v.HostPath.Type != nil && *v.HostPath.Type == corev1.HostPathDirectoryOrCreate:
			if err := os.MkdirAll(v.HostPath.Path, 0o755); err != nil {
				return fmt.Errorf("hostPath %s: %w", v.Name, err)
			}
		}
	}
	return nil
}

// facts is what the downward API exposes of this pod now.
func (w *podWorker) facts() podFacts {
	f := podFacts{pod: w.pod, nodeName: w.deps.NodeName, hostIP: w.env.nodeAddress, allocatable: w.deps.Allocatable}
	if w.sandbox != nil {
		f.podIP = w.sandbox.IP
	}
	return f
}

func (w *podWorker) sandboxConfig() SandboxConfig {
	cfg := SandboxConfig{PodUID: w.uid, Namespace: w.pod.Namespace, Name: w.pod.Name, PodCIDR: w.env.podCIDR}
	for _, c := range w.pod.Spec.Containers { // init containers may not have host ports
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
	env, err := containerEnv(c, w.facts(), w.env.services)
	if err != nil {
		return ContainerConfig{}, err
	}
	lookup := envLookup(env)
	cfg := ContainerConfig{
		PodUID: w.uid, PodNamespace: w.pod.Namespace, PodName: w.pod.Name,
		Name: c.Name, Attempt: attempt, Image: image,
		Command: expandAll(c.Command, lookup), Args: expandAll(c.Args, lookup),
		Env: env, WorkingDir: c.WorkingDir, NetNSPath: w.sandbox.NetNSPath,
		Security: securityConfig(&w.pod.Spec, c),
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
			// Downward API volumes are read-only, as the kubelet mounts them.
			cfg.Mounts = append(cfg.Mounts, Mount{HostPath: host, ContainerPath: m.MountPath, ReadOnly: m.ReadOnly || v.DownwardAPI != nil})
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
