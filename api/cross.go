package api

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// crossCheck finds conflicts between objects, possibly in different files: the same
// object defined twice, and Services claiming the same explicit clusterIP or nodePort.
// The second definition (in file order) gets the error and names the first.
type crossCheck struct {
	objects    map[string]Source
	clusterIPs map[string]claim
	nodePorts  map[int32]claim
}

type claim struct {
	object string
	pos    Position
}

func newCrossCheck() *crossCheck {
	return &crossCheck{objects: map[string]Source{}, clusterIPs: map[string]claim{}, nodePorts: map[int32]claim{}}
}

func (x *crossCheck) define(c *checker, key string, src Source) {
	if first, ok := x.objects[key]; ok {
		c.errs = append(c.errs, FieldError{Pos: c.at("metadata.name"), Field: "metadata.name", Message: fmt.Sprintf("defined twice: first at %s:%d", first.File, first.Line)})
		return
	}
	x.objects[key] = src
}

func (x *crossCheck) service(c *checker, s *corev1.Service) {
	self := Key("Service", s.Namespace, s.Name)
	if ip := s.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		p := field.NewPath("spec", "clusterIP")
		if first, ok := x.clusterIPs[ip]; ok && first.object != self {
			c.errorf(p, "clusterIP %s is already used by %s (%s)", ip, first.object, first.pos)
		} else if !ok {
			x.clusterIPs[ip] = claim{self, c.at(p.String())}
		}
	}
	for i, port := range s.Spec.Ports {
		if port.NodePort == 0 {
			continue
		}
		p := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if first, ok := x.nodePorts[port.NodePort]; ok && first.object != self {
			c.errorf(p, "nodePort %s is already used by %s (%s)", strconv.Itoa(int(port.NodePort)), first.object, first.pos)
		} else if !ok {
			x.nodePorts[port.NodePort] = claim{self, c.at(p.String())}
		}
	}
}
