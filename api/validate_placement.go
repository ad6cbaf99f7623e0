package api

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validatePlacement checks what ties a pod to nodes: nodeName, tolerations and
// required node affinity, with Kubernetes' rules.
func validatePlacement(c *checker, p *field.Path, s *corev1.PodSpec) {
	if s.NodeName != "" {
		c.invalid(p.Child("nodeName"), s.NodeName, validation.IsDNS1123Subdomain(s.NodeName))
	}
	for i := range s.Tolerations {
		validateToleration(c, p.Child("tolerations").Index(i), &s.Tolerations[i])
	}
	if a := s.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		rp := p.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
		terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		if len(terms) == 0 {
			c.errorf(rp.Child("nodeSelectorTerms"), "required value: must have at least one node selector term")
		}
		for i, t := range terms {
			for j, r := range t.MatchExpressions {
				validateNodeRequirement(c, rp.Child("nodeSelectorTerms").Index(i).Child("matchExpressions").Index(j), r)
			}
		}
	}
}

func validateToleration(c *checker, p *field.Path, t *corev1.Toleration) {
	if t.Key != "" {
		c.invalid(p.Child("key"), t.Key, validation.IsQualifiedName(t.Key))
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		if t.Value != "" {
			c.errorf(p.Child("operator"), "value must be empty when operator is Exists")
		}
	case corev1.TolerationOpEqual, "":
		if t.Key == "" {
			c.errorf(p.Child("operator"), "operator must be Exists when key is empty")
		}
		if t.Value != "" {
			c.invalid(p.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))
		}
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		c.errorf(p.Child("effect"), "effect must be NoExecute when tolerationSeconds is set")
	}
}

func validateNodeRequirement(c *checker, p *field.Path, r corev1.NodeSelectorRequirement) {
	c.invalid(p.Child("key"), r.Key, validation.IsQualifiedName(r.Key))
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) == 0 {
			c.errorf(p.Child("values"), "required value: must be specified when operator is In or NotIn")
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(r.Values) > 0 {
			c.errorf(p.Child("values"), "may not be specified when operator is Exists or DoesNotExist")
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 {
			c.errorf(p.Child("values"), "must be a single integer when operator is Gt or Lt")
		} else if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
			c.errorf(p.Child("values").Index(0), "invalid value %q: must be an integer when operator is Gt or Lt", r.Values[0])
		}
	}
	for i, v := range r.Values {
		c.invalid(p.Child("values").Index(i), v, validation.IsValidLabelValue(v))
	}
}
