package api

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateRC(c *checker, rc *corev1.ReplicationController) {
	validateMeta(c, &rc.ObjectMeta, validation.IsDNS1123Subdomain)
	p := field.NewPath("spec")
	if r := rc.Spec.Replicas; r != nil {
		c.nonNegative(p.Child("replicas"), int64(*r))
	}
	if len(rc.Spec.Selector) == 0 {
		c.required(p.Child("selector"))
	}
	validateLabels(c, p.Child("selector"), rc.Spec.Selector)
	t := rc.Spec.Template
	if t == nil {
		c.required(p.Child("template"))
		return
	}
	tp := p.Child("template")
	validateLabels(c, tp.Child("metadata", "labels"), t.Labels)
	validateAnnotations(c, tp.Child("metadata", "annotations"), t.Annotations)
	if len(rc.Spec.Selector) > 0 && !labels.SelectorFromSet(rc.Spec.Selector).Matches(labels.Set(t.Labels)) {
		c.errorf(tp.Child("metadata", "labels"), "the template's labels do not match spec.selector %s", labels.Set(rc.Spec.Selector))
	}
	validatePodSpec(c, tp.Child("spec"), &t.Spec)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		c.errorf(tp.Child("spec", "restartPolicy"), "unsupported value %q: a ReplicationController's pods must use Always", t.Spec.RestartPolicy)
	}
}
