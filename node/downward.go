package node

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// podFacts is what the downward API can expose about a running pod.
type podFacts struct {
	pod         *api.PodRecord
	nodeName    string
	hostIP      string
	podIP       string
	allocatable api.Resources // for limits a container does not set, as Kubernetes
}

// fieldValue resolves a fieldRef path (validated by the api package) to its value.
func (f podFacts) fieldValue(path string) (string, error) {
	if field, key, ok := api.FieldSubscript(path); ok {
		if field == "labels" {
			return f.pod.Labels[key], nil
		}
		return f.pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return f.pod.Name, nil
	case "metadata.namespace":
		return f.pod.Namespace, nil
	case "metadata.uid":
		return f.pod.UID, nil
	case "metadata.labels":
		return formatMap(f.pod.Labels), nil
	case "metadata.annotations":
		return formatMap(f.pod.Annotations), nil
	case "spec.nodeName":
		return f.nodeName, nil
	case "spec.serviceAccountName":
		return f.pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return f.hostIP, nil
	case "status.podIP", "status.podIPs":
		return f.podIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// formatMap writes labels or annotations as the kubelet does in a downward API file:
// key="value" lines, sorted, values quoted Go-style.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	return b.String()
}

// resourceValue resolves a resourceFieldRef of container self (when the ref names
// none) like the kubelet: a limit that is not set is the node's allocatable, a request
// that is not set is 0 (or the limit, as Kubernetes defaults it), and the value is the
// quantity divided by the divisor, rounded up.
func (f podFacts) resourceValue(ref *corev1.ResourceFieldSelector, self string) (string, error) {
	name := ref.ContainerName
	if name == "" {
		name = self
	}
	var c *corev1.Container
	for _, list := range [][]corev1.Container{f.pod.Spec.Containers, f.pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				c = &list[i]
			}
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: no container %q", name)
	}
	kind, res, _ := strings.Cut(ref.Resource, ".")
	rn := corev1.ResourceName(res)
	q, ok := c.Resources.Limits[rn]
	if kind == "requests" {
		if r, has := c.Resources.Requests[rn]; has {
			q, ok = r, true
		} else if !ok {
			q, ok = resource.Quantity{}, true
		}
	}
	if !ok { // an unset limit is what the node can give
		switch rn {
		case corev1.ResourceCPU:
			q = *resource.NewMilliQuantity(f.allocatable.MilliCPU, resource.DecimalSI)
		case corev1.ResourceMemory:
			q = *resource.NewQuantity(f.allocatable.MemoryBytes, resource.BinarySI)
		}
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	// Exact rational division (milli-units on both sides), rounded up.
	n, d := big.NewInt(q.MilliValue()), big.NewInt(div.MilliValue())
	quo, rem := new(big.Int).QuoRem(n, d, new(big.Int))
	if rem.Sign() > 0 {
		quo.Add(quo, big.NewInt(1))
	}
	return quo.String(), nil
}

// writeDownwardVolume writes a downwardAPI volume's files into dir, each with its
// mode (or the default mode), group-owned by fsGroup when set. The files are written
// once, when the pod's volumes are prepared: Keelson pods do not change labels in
// place (a changed template replaces the pod).
func writeDownwardVolume(dir string, src *corev1.DownwardAPIVolumeSource, f podFacts, fsGroup *int64) error {
	mode := corev1.DownwardAPIVolumeSourceDefaultMode
	if src.DefaultMode != nil {
		mode = *src.DefaultMode
	}
	for _, it := range src.Items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = f.fieldValue(it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			val, err = f.resourceValue(it.ResourceFieldRef, "")
		}
		if err != nil {
			return fmt.Errorf("item %s: %w", it.Path, err)
		}
		m := mode
		if it.Mode != nil {
			m = *it.Mode
		}
		p := filepath.Join(dir, filepath.Clean("/"+it.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(val), os.FileMode(m)); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(m)); err != nil {
			return err
		}
		if fsGroup != nil {
			if err := os.Chown(p, -1, int(*fsGroup)); err != nil {
				return err
			}
		}
	}
	return nil
}
