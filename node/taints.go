package node

import (
	"fmt"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ParseTaints reads the agent's --register-with-taints values, kubelet style:
// "key=value:Effect" or "key:Effect", Effect one of NoSchedule, PreferNoSchedule,
// NoExecute.
func ParseTaints(specs []string) ([]api.Taint, error) {
	var out []api.Taint
	seen := map[string]bool{}
	for _, s := range specs {
		kv, effect, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("taint %q: want key=value:Effect or key:Effect", s)
		}
		key, value, _ := strings.Cut(kv, "=")
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			return nil, fmt.Errorf("taint %q: key: %s", s, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
			return nil, fmt.Errorf("taint %q: value: %s", s, strings.Join(msgs, "; "))
		}
		switch e := corev1.TaintEffect(effect); e {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("taint %q: effect %q: want NoSchedule, PreferNoSchedule or NoExecute", s, effect)
		}
		if seen[key+":"+effect] {
			return nil, fmt.Errorf("taint %q: key %s with effect %s given twice", s, key, effect)
		}
		seen[key+":"+effect] = true
		out = append(out, api.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)})
	}
	return out, nil
}
