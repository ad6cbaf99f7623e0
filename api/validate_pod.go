package api

import (
	"path"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validatePod(c *checker, p *corev1.Pod) {
	validateMeta(c, &p.ObjectMeta, validation.IsDNS1123Subdomain)
	validatePodSpec(c, field.NewPath("spec"), &p.Spec)
}

// validatePodSpec checks a pod spec (of a Pod or of an RC's template) as Kubernetes
// does, for the fields Keelson honors.
func validatePodSpec(c *checker, p *field.Path, s *corev1.PodSpec) {
	containers := map[string]*corev1.Container{}
	for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range list {
			containers[list[i].Name] = &list[i]
		}
	}
	volumes := validateVolumes(c, p.Child("volumes"), s.Volumes, containers)
	if len(s.Containers) == 0 {
		c.errorf(p.Child("containers"), "required value: a pod needs at least one container")
	}
	names := map[string]bool{}
	ports := map[string]bool{}
	hostPorts := map[string]bool{}
	for _, list := range []struct {
		name string
		ctrs []corev1.Container
	}{{"initContainers", s.InitContainers}, {"containers", s.Containers}} {
		for i := range list.ctrs {
			cp := p.Child(list.name).Index(i)
			ct := &list.ctrs[i]
			if names[ct.Name] && ct.Name != "" {
				c.errorf(cp.Child("name"), "duplicate container name %q", ct.Name)
			}
			names[ct.Name] = true
			validateContainer(c, cp, ct, volumes, containers)
			for j, port := range ct.Ports {
				pp := cp.Child("ports").Index(j)
				if port.Name != "" {
					if ports[port.Name] {
						c.errorf(pp.Child("name"), "duplicate port name %q in the pod", port.Name)
					}
					ports[port.Name] = true
				}
				if port.HostPort != 0 {
					hp := strconv.Itoa(int(port.HostPort)) + "/" + string(port.Protocol)
					if hostPorts[hp] {
						c.errorf(pp.Child("hostPort"), "host port %s is used twice in the pod", hp)
					}
					hostPorts[hp] = true
				}
			}
		}
	}
	c.oneOf(p.Child("restartPolicy"), string(s.RestartPolicy), "Always", "OnFailure", "Never")
	if g := s.TerminationGracePeriodSeconds; g != nil {
		c.nonNegative(p.Child("terminationGracePeriodSeconds"), *g)
	}
	validateLabels(c, p.Child("nodeSelector"), s.NodeSelector)
	validatePodSecurity(c, p.Child("securityContext"), s.SecurityContext)
	validatePlacement(c, p, s)
	validatePodDNS(c, p, s)
}

// validateVolumes checks pod volumes and returns the declared names.
func validateVolumes(c *checker, p *field.Path, vols []corev1.Volume, containers map[string]*corev1.Container) map[string]bool {
	names := map[string]bool{}
	for i, v := range vols {
		vp := p.Index(i)
		if v.Name == "" {
			c.required(vp.Child("name"))
		} else {
			c.invalid(vp.Child("name"), v.Name, validation.IsDNS1123Label(v.Name))
		}
		if names[v.Name] && v.Name != "" {
			c.errorf(vp.Child("name"), "duplicate volume name %q", v.Name)
		}
		names[v.Name] = true
		if (v.EmptyDir != nil && v.HostPath != nil) || (v.DownwardAPI != nil && (v.EmptyDir != nil || v.HostPath != nil)) {
			c.errorf(vp, "may not specify more than one volume type")
		}
		if v.DownwardAPI != nil {
			validateDownwardVolume(c, vp.Child("downwardAPI"), v.DownwardAPI, containers)
		}
		if h := v.HostPath; h != nil {
			hp := vp.Child("hostPath")
			switch {
			case h.Path == "":
				c.required(hp.Child("path"))
			case !path.IsAbs(h.Path):
				c.errorf(hp.Child("path"), "invalid value %q: must be an absolute path", h.Path)
			}
			if h.Type != nil {
				c.oneOf(hp.Child("type"), string(*h.Type), "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
			}
		}
	}
	return names
}

func validateContainer(c *checker, p *field.Path, ct *corev1.Container, volumes map[string]bool, containers map[string]*corev1.Container) {
	if ct.Name == "" {
		c.required(p.Child("name"))
	} else {
		c.invalid(p.Child("name"), ct.Name, validation.IsDNS1123Label(ct.Name))
	}
	if ct.Image == "" {
		c.required(p.Child("image"))
	}
	c.oneOf(p.Child("imagePullPolicy"), string(ct.ImagePullPolicy), "Always", "IfNotPresent", "Never")
	for i, port := range ct.Ports {
		pp := p.Child("ports").Index(i)
		if port.Name != "" {
			c.invalid(pp.Child("name"), port.Name, validation.IsValidPortName(port.Name))
		}
		c.invalid(pp.Child("containerPort"), port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))
		if port.HostPort != 0 {
			c.invalid(pp.Child("hostPort"), port.HostPort, validation.IsValidPortNum(int(port.HostPort)))
		}
		c.oneOf(pp.Child("protocol"), string(port.Protocol), "TCP", "UDP", "SCTP")
	}
	for i := range ct.Env {
		e := &ct.Env[i]
		ep := p.Child("env").Index(i)
		if e.Name == "" {
			c.required(ep.Child("name"))
		} else {
			c.invalid(ep.Child("name"), e.Name, validation.IsEnvVarName(e.Name))
		}
		validateEnvSource(c, ep, e, ct, containers)
	}
	mounts := map[string]bool{}
	for i, m := range ct.VolumeMounts {
		mp := p.Child("volumeMounts").Index(i)
		switch {
		case m.Name == "":
			c.required(mp.Child("name"))
		case !volumes[m.Name]:
			c.errorf(mp.Child("name"), "volume %q is not declared in the pod's volumes", m.Name)
		}
		switch {
		case m.MountPath == "":
			c.required(mp.Child("mountPath"))
		case !path.IsAbs(m.MountPath):
			c.errorf(mp.Child("mountPath"), "invalid value %q: must be an absolute path", m.MountPath)
		case mounts[path.Clean(m.MountPath)]:
			c.errorf(mp.Child("mountPath"), "duplicate mountPath %q", m.MountPath)
		}
		mounts[path.Clean(m.MountPath)] = true
	}
	validateResources(c, p.Child("resources"), &ct.Resources)
	validateProbe(c, p.Child("readinessProbe"), ct.ReadinessProbe, ct, false)
	validateProbe(c, p.Child("livenessProbe"), ct.LivenessProbe, ct, true)
	validateProbe(c, p.Child("startupProbe"), ct.StartupProbe, ct, true)
	if l := ct.Lifecycle; l != nil {
		validateHook(c, p.Child("lifecycle", "postStart"), l.PostStart, ct)
		validateHook(c, p.Child("lifecycle", "preStop"), l.PreStop, ct)
	}
	validateContainerSecurity(c, p.Child("securityContext"), ct.SecurityContext)
}

// validateHook checks a lifecycle handler: exactly one of exec and httpGet (the table
// refuses tcpSocket and sleep).
func validateHook(c *checker, p *field.Path, h *corev1.LifecycleHandler, ct *corev1.Container) {
	if h == nil {
		return
	}
	n := 0
	if h.Exec != nil {
		n++
		if len(h.Exec.Command) == 0 {
			c.required(p.Child("exec", "command"))
		}
	}
	if g := h.HTTPGet; g != nil {
		n++
		validateProbePort(c, p.Child("httpGet", "port"), g.Port, ct)
		c.oneOf(p.Child("httpGet", "scheme"), string(g.Scheme), "HTTP", "HTTPS")
	}
	if h.TCPSocket != nil {
		n++
	}
	if h.Sleep != nil {
		n++
	}
	if n != 1 {
		c.errorf(p, "must specify exactly one handler: exec or httpGet")
	}
}

func validateResources(c *checker, p *field.Path, r *corev1.ResourceRequirements) {
	for _, list := range []struct {
		name string
		rl   corev1.ResourceList
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		for _, name := range sortedKeys(list.rl) {
			if q := list.rl[corev1.ResourceName(name)]; q.Sign() < 0 {
				c.errorf(p.Child(list.name).Key(name), "invalid value %q: must be greater than or equal to 0", q.String())
			}
		}
	}
	for _, name := range sortedKeys(r.Requests) {
		req := r.Requests[corev1.ResourceName(name)]
		lim, ok := r.Limits[corev1.ResourceName(name)]
		if ok && req.Cmp(lim) > 0 {
			c.errorf(p.Child("requests").Key(name), "invalid value %q: must be less than or equal to %s limit of %s", req.String(), name, lim.String())
		}
	}
}

func validateProbe(c *checker, p *field.Path, pr *corev1.Probe, ct *corev1.Container, liveness bool) {
	if pr == nil {
		return
	}
	handlers := 0
	if h := pr.HTTPGet; h != nil {
		handlers++
		validateProbePort(c, p.Child("httpGet", "port"), h.Port, ct)
		c.oneOf(p.Child("httpGet", "scheme"), string(h.Scheme), "HTTP", "HTTPS")
	}
	if t := pr.TCPSocket; t != nil {
		handlers++
		validateProbePort(c, p.Child("tcpSocket", "port"), t.Port, ct)
	}
	if e := pr.Exec; e != nil {
		handlers++
		if len(e.Command) == 0 {
			c.required(p.Child("exec", "command"))
		}
	}
	if g := pr.GRPC; g != nil {
		handlers++
		c.invalid(p.Child("grpc", "port"), g.Port, validation.IsValidPortNum(int(g.Port)))
	}
	switch {
	case handlers == 0:
		c.errorf(p, "must specify a handler: httpGet, tcpSocket or exec")
	case handlers > 1:
		c.errorf(p, "may not specify more than one handler")
	}
	c.nonNegative(p.Child("initialDelaySeconds"), int64(pr.InitialDelaySeconds))
	for _, f := range []struct {
		name string
		v    int32
	}{{"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds}, {"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		if f.v < 1 {
			c.errorf(p.Child(f.name), "invalid value %d: must be greater than or equal to 1", f.v)
		}
	}
	if liveness && pr.SuccessThreshold != 1 {
		c.errorf(p.Child("successThreshold"), "invalid value %d: must be 1 for a liveness probe", pr.SuccessThreshold)
	}
}

// validateProbePort checks a probe's port: a number, or the name of a port of the
// container (which the agent must be able to resolve).
func validateProbePort(c *checker, p *field.Path, port intstr.IntOrString, ct *corev1.Container) {
	if port.Type == intstr.Int {
		c.invalid(p, port.IntVal, validation.IsValidPortNum(int(port.IntVal)))
		return
	}
	if msgs := validation.IsValidPortName(port.StrVal); len(msgs) > 0 {
		c.invalid(p, port.StrVal, msgs)
		return
	}
	for _, cp := range ct.Ports {
		if cp.Name == port.StrVal {
			return
		}
	}
	c.errorf(p, "invalid value %q: the container has no port of that name", port.StrVal)
}
