package api

// RCViews shows each ReplicationController of a revision with its observed pod counts,
// in the revision's order. The read API and the Kubernetes-shaped API both render it,
// so `keelson get rc` and `kubectl get rc` count the same pods.
func RCViews(rev *Revision, statuses []ObjectStatus, podsByOwner func(owner string) []PodRecord) []RCView {
	out := []RCView{}
	if rev == nil {
		return out
	}
	status := map[string]ObjectStatus{}
	for _, o := range statuses {
		status[o.Key] = o
	}
	for _, rc := range rev.Objects.ReplicationControllers {
		key := Key("ReplicationController", rc.Namespace, rc.Name)
		v := RCView{
			Namespace: rc.Namespace, Name: rc.Name, Selector: rc.Spec.Selector,
			Source: rev.Objects.Sources[key], Status: status[key],
		}
		if rc.Spec.Replicas != nil {
			v.Replicas = *rc.Spec.Replicas
		}
		if rc.Spec.Template != nil {
			for _, c := range rc.Spec.Template.Spec.Containers {
				v.Images = append(v.Images, c.Image)
			}
		}
		for _, p := range podsByOwner(key) {
			if p.Desire == DesireRun {
				v.Current++
				if p.Status.Ready {
					v.Ready++
				}
			}
		}
		out = append(out, v)
	}
	return out
}
