package api

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits on the size of one revision. Every server holds a revision in memory and
// replicates its pods through raft, so a commit asking for a billion replicas must be
// refused where it is decoded, with the line that asks for it, instead of running the
// servers out of memory. The defaults follow Kubernetes' tested scalability limits
// (150,000 pods per cluster) with room for real repositories.
const (
	// MaxPodsPerRevision bounds the pods a revision declares: bare Pods plus the
	// replicas of every ReplicationController.
	MaxPodsPerRevision = 150_000
	// MaxReplicasPerRC bounds one ReplicationController's replicas, so that one object
	// cannot take the whole revision's budget by a typo.
	MaxReplicasPerRC = 50_000
	// MaxRevisionObjects bounds the objects (Pods, Services, ReplicationControllers) of
	// one revision; Kubernetes tests 10,000 Services per cluster.
	MaxRevisionObjects = 20_000
	// MaxRevisionBytes bounds the total size of a revision's manifest files.
	MaxRevisionBytes = 32 << 20
)

// Largest resource quantities accepted. A request beyond them is a mistake, and
// quantities near the int64 range overflow when converted (9.9Ei CPUs become -1
// millicore) or summed over containers and pods.
var (
	maxCPU    = resource.MustParse("100000") // cores
	maxMemory = resource.MustParse("1Pi")    // bytes
)

// AddSaturating returns a+b, clamped to the int64 range instead of wrapping, so a sum
// of resource requests can never become small or negative.
func AddSaturating(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// RevisionTooLarge is the error for the file at which a revision's manifests pass
// MaxRevisionBytes; readers of Git trees use it too, so that they stop reading there.
func RevisionTooLarge(file string) FieldError { return revisionTooLarge(file, MaxRevisionBytes) }

func revisionTooLarge(file string, limit int64) FieldError {
	return FieldError{Pos: Position{File: file}, Message: fmt.Sprintf("the revision's manifest files exceed the %d bytes limit for a revision; this file and the ones after it are not read", limit)}
}

// revisionCaps are the caps a revisionBudget enforces (tests use small ones).
type revisionCaps struct {
	maxBytes             int64
	maxObjects           int
	maxPods, maxReplicas int64
}

var defaultCaps = revisionCaps{maxBytes: MaxRevisionBytes, maxObjects: MaxRevisionObjects, maxPods: MaxPodsPerRevision, maxReplicas: MaxReplicasPerRC}

// revisionBudget counts what a revision declares as it is decoded, reporting the
// object at which a limit is passed.
type revisionBudget struct {
	revisionCaps
	bytes    int64
	overSize bool
	objects  int
	pods     int64
}

// file counts a file's bytes and reports whether it may still be decoded.
func (b *revisionBudget) file(f File) (bool, *FieldError) {
	if b.overSize {
		return false, nil
	}
	b.bytes += int64(len(f.Data))
	if b.bytes > b.maxBytes {
		b.overSize = true
		fe := revisionTooLarge(f.Path, b.maxBytes)
		return false, &fe
	}
	return true, nil
}

// object counts one object and the pods it declares (p names the field to blame for
// them).
func (b *revisionBudget) object(c *checker, pods int64, p *field.Path) {
	b.objects++
	if b.objects == b.maxObjects+1 {
		c.errorf(field.NewPath("metadata", "name"), "the revision has more than %d objects, the limit for a revision", b.maxObjects)
	}
	before := b.pods
	b.pods += pods
	if before <= b.maxPods && b.pods > b.maxPods {
		c.errorf(p, "the revision declares more than %d pods (bare Pods plus replicas), the limit for a revision", b.maxPods)
	}
}

// checkPodLimits checks the limits of a bare Pod.
func (b *revisionBudget) checkPod(c *checker, pod *corev1.Pod) {
	checkQuantities(c, field.NewPath("spec"), &pod.Spec)
	b.object(c, 1, field.NewPath("metadata", "name"))
}

// checkRC checks the limits of a ReplicationController. Replicas over the per-RC cap
// count as the cap towards the revision, so one typo gives one error.
func (b *revisionBudget) checkRC(c *checker, rc *corev1.ReplicationController) {
	replicas := int64(1)
	if rc.Spec.Replicas != nil {
		replicas = max(int64(*rc.Spec.Replicas), 0)
	}
	p := field.NewPath("spec", "replicas")
	if replicas > b.maxReplicas {
		c.errorf(p, "invalid value %d: must be at most %d, the limit for one ReplicationController", replicas, b.maxReplicas)
		replicas = b.maxReplicas
	}
	if rc.Spec.Template != nil {
		checkQuantities(c, field.NewPath("spec", "template", "spec"), &rc.Spec.Template.Spec)
	}
	b.object(c, replicas, p)
}

func (b *revisionBudget) checkService(c *checker) {
	b.object(c, 0, field.NewPath("metadata", "name"))
}

// checkQuantities refuses CPU and memory quantities over the largest accepted ones, in
// every container's requests and limits.
func checkQuantities(c *checker, p *field.Path, spec *corev1.PodSpec) {
	for _, list := range []struct {
		name string
		cs   []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i := range list.cs {
			r := &list.cs[i].Resources
			rp := p.Child(list.name).Index(i).Child("resources")
			for _, rl := range []struct {
				name string
				l    corev1.ResourceList
			}{{"requests", r.Requests}, {"limits", r.Limits}} {
				for _, name := range sortedKeys(rl.l) {
					q := rl.l[corev1.ResourceName(name)]
					limit, unit := maxMemory, "bytes"
					if name == string(corev1.ResourceCPU) {
						limit, unit = maxCPU, "CPUs"
					}
					if q.Cmp(limit) > 0 {
						// The value is not printed: past int64 its canonical form is
						// not what the file says, and the position points at it.
						c.errorf(rp.Child(rl.name).Key(name), "quantity too large: must be at most %s %s", limit.String(), unit)
					}
				}
			}
		}
	}
}

// QuantityMilli converts a quantity to millis, saturating at the int64 range:
// resource.Quantity's own conversion wraps (9.9Ei CPUs gives -1,000 millicores), which
// would make an absurd request fit any node.
func QuantityMilli(q resource.Quantity) int64 {
	if n, ok := clamp(q, resource.NewMilliQuantity(math.MaxInt64, resource.DecimalSI), resource.NewMilliQuantity(math.MinInt64, resource.DecimalSI)); ok {
		return n
	}
	return q.MilliValue()
}

// QuantityValue is QuantityMilli in units (bytes for memory), rounded up.
func QuantityValue(q resource.Quantity) int64 {
	if n, ok := clamp(q, resource.NewQuantity(math.MaxInt64, resource.DecimalSI), resource.NewQuantity(math.MinInt64, resource.DecimalSI)); ok {
		return n
	}
	return q.Value()
}

// clamp returns the int64 bound that q reaches or passes, if any.
func clamp(q resource.Quantity, hi, lo *resource.Quantity) (int64, bool) {
	switch {
	case q.Cmp(*hi) >= 0:
		return math.MaxInt64, true
	case q.Cmp(*lo) <= 0:
		return math.MinInt64, true
	}
	return 0, false
}
