package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

// specHash identifies a pod template: labels and spec. It is stored on each pod so a
// new leader can tell, from committed records alone, which pods are current and which
// must be rolled. encoding/json sorts map keys, so the hash is stable across processes.
func specHash(labels map[string]string, spec *corev1.PodSpec) string {
	b, err := json.Marshal(struct {
		Labels map[string]string `json:"labels,omitempty"`
		Spec   *corev1.PodSpec   `json:"spec"`
	}{labels, spec})
	if err != nil {
		// A PodSpec always encodes; keep going with a hash that differs from any real
		// one so the mismatch is visible rather than silently equal.
		return "unhashable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:5])
}
