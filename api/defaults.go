package api

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Defaulting follows Kubernetes' own (pkg/apis/core/v1/defaults.go) for the fields
// Keelson honors, so a manifest means here what it means on a Kubernetes cluster. It
// runs before validation, as in Kubernetes.

const (
	defaultGracePeriod      = int64(30)
	defaultClientIPTimeout  = int32(10800)
	defaultProbePeriod      = int32(10)
	defaultProbeTimeout     = int32(1)
	defaultProbeSuccess     = int32(1)
	defaultProbeFailure     = int32(3)
	defaultHTTPGetProbePath = "/"
)

func defaultMeta(ns *string) {
	if *ns == "" {
		*ns = DefaultNamespace
	}
}

func defaultPod(p *corev1.Pod) {
	defaultMeta(&p.Namespace)
	defaultPodSpec(&p.Spec)
}

func defaultPodSpec(s *corev1.PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := defaultGracePeriod
		s.TerminationGracePeriodSeconds = &g
	}
	for i := range s.Volumes {
		v := &s.Volumes[i].VolumeSource
		if *v == (corev1.VolumeSource{}) {
			v.EmptyDir = &corev1.EmptyDirVolumeSource{} // Kubernetes' default volume type
		}
		if v.HostPath != nil && v.HostPath.Type == nil {
			t := corev1.HostPathUnset
			v.HostPath.Type = &t
		}
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i])
	}
	defaultPodFields(s)
}

func defaultContainer(c *corev1.Container) {
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = pullPolicyFor(c.Image)
	}
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.LivenessProbe)
}

// pullPolicyFor is Kubernetes' tag rule: images tagged :latest (or not tagged) are
// always pulled, since the tag moves; others are pulled when missing.
func pullPolicyFor(image string) corev1.PullPolicy {
	if strings.Contains(image, "@") {
		return corev1.PullIfNotPresent
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, tagged := strings.Cut(name, ":")
	if !tagged || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	setIfZero(&p.TimeoutSeconds, defaultProbeTimeout)
	setIfZero(&p.PeriodSeconds, defaultProbePeriod)
	setIfZero(&p.SuccessThreshold, defaultProbeSuccess)
	setIfZero(&p.FailureThreshold, defaultProbeFailure)
	if h := p.HTTPGet; h != nil {
		if h.Path == "" {
			h.Path = defaultHTTPGetProbePath
		}
		if h.Scheme == "" {
			h.Scheme = corev1.URISchemeHTTP
		}
	}
}

func setIfZero(v *int32, def int32) {
	if *v == 0 {
		*v = def
	}
}

func defaultService(s *corev1.Service) {
	defaultMeta(&s.Namespace)
	sp := &s.Spec
	if sp.Type == "" {
		sp.Type = corev1.ServiceTypeClusterIP
	}
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = corev1.ServiceAffinityNone
	}
	if sp.SessionAffinity == corev1.ServiceAffinityClientIP {
		if sp.SessionAffinityConfig == nil {
			sp.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if sp.SessionAffinityConfig.ClientIP == nil {
			sp.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
		}
		if sp.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			t := defaultClientIPTimeout
			sp.SessionAffinityConfig.ClientIP.TimeoutSeconds = &t
		}
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
}

func defaultRC(rc *corev1.ReplicationController) {
	defaultMeta(&rc.Namespace)
	if rc.Spec.Replicas == nil {
		one := int32(1)
		rc.Spec.Replicas = &one
	}
	t := rc.Spec.Template
	if t == nil {
		return
	}
	if len(rc.Spec.Selector) == 0 {
		rc.Spec.Selector = copyMap(t.Labels)
	}
	if len(rc.Labels) == 0 {
		rc.Labels = copyMap(t.Labels)
	}
	defaultPodSpec(&t.Spec)
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
