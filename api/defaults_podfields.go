package api

import corev1 "k8s.io/api/core/v1"

// defaultPodFields defaults the downward API, init containers, startup probes and
// lifecycle hooks as Kubernetes does (fieldRef apiVersion v1, downwardAPI mode 0644,
// httpGet path / and scheme HTTP).
func defaultPodFields(s *corev1.PodSpec) {
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i])
	}
	for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range list {
			c := &list[i]
			defaultProbe(c.StartupProbe)
			for j := range c.Env {
				if f := c.Env[j].ValueFrom; f != nil && f.FieldRef != nil && f.FieldRef.APIVersion == "" {
					f.FieldRef.APIVersion = "v1"
				}
			}
			if l := c.Lifecycle; l != nil {
				defaultHandler(l.PostStart)
				defaultHandler(l.PreStop)
			}
		}
	}
	for i := range s.Volumes {
		d := s.Volumes[i].DownwardAPI
		if d == nil {
			continue
		}
		if d.DefaultMode == nil {
			m := corev1.DownwardAPIVolumeSourceDefaultMode
			d.DefaultMode = &m
		}
		for j := range d.Items {
			if f := d.Items[j].FieldRef; f != nil && f.APIVersion == "" {
				f.APIVersion = "v1"
			}
		}
	}
}

func defaultHandler(h *corev1.LifecycleHandler) {
	if h == nil || h.HTTPGet == nil {
		return
	}
	if h.HTTPGet.Path == "" {
		h.HTTPGet.Path = defaultHTTPGetProbePath
	}
	if h.HTTPGet.Scheme == "" {
		h.HTTPGet.Scheme = corev1.URISchemeHTTP
	}
}
