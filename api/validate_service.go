package api

import (
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NodePortMin and NodePortMax bound nodePorts, as Kubernetes' default range.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// maxClientIPTimeout is Kubernetes' limit on sessionAffinityConfig.clientIP.timeoutSeconds.
const maxClientIPTimeout = 86400

func validateService(c *checker, s *corev1.Service) {
	validateMeta(c, &s.ObjectMeta, validation.IsDNS1035Label)
	p := field.NewPath("spec")
	sp := &s.Spec
	validateLabels(c, p.Child("selector"), sp.Selector)
	c.oneOf(p.Child("type"), string(sp.Type), "ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
	nodePorts := sp.Type == corev1.ServiceTypeNodePort || sp.Type == corev1.ServiceTypeLoadBalancer

	switch {
	case sp.Type == corev1.ServiceTypeExternalName:
		name := strings.TrimSuffix(sp.ExternalName, ".")
		if name == "" {
			c.required(p.Child("externalName"))
		} else {
			c.invalid(p.Child("externalName"), sp.ExternalName, validation.IsDNS1123Subdomain(name))
		}
		if sp.ClusterIP != "" {
			c.errorf(p.Child("clusterIP"), "may not be set for an ExternalName Service")
		}
	case sp.ClusterIP == corev1.ClusterIPNone:
		if nodePorts {
			c.errorf(p.Child("clusterIP"), "may not be None for a %s Service", sp.Type)
		}
	case sp.ClusterIP != "":
		if ip := net.ParseIP(sp.ClusterIP); ip == nil || ip.To4() == nil {
			c.errorf(p.Child("clusterIP"), "invalid value %q: must be None or an IPv4 address", sp.ClusterIP)
		}
	}
	if sp.ExternalName != "" && sp.Type != corev1.ServiceTypeExternalName {
		c.errorf(p.Child("externalName"), "may only be set when type is ExternalName")
	}
	if len(sp.Ports) == 0 && sp.Type != corev1.ServiceTypeExternalName && sp.ClusterIP != corev1.ClusterIPNone {
		c.errorf(p.Child("ports"), "required value: a Service needs at least one port")
	}
	validateServicePorts(c, p.Child("ports"), sp.Ports, sp.Type, nodePorts)

	c.oneOf(p.Child("sessionAffinity"), string(sp.SessionAffinity), "None", "ClientIP")
	cfg := sp.SessionAffinityConfig
	switch {
	case sp.SessionAffinity != corev1.ServiceAffinityClientIP && cfg != nil:
		c.errorf(p.Child("sessionAffinityConfig"), "may only be set when sessionAffinity is ClientIP")
	case cfg != nil && cfg.ClientIP != nil && cfg.ClientIP.TimeoutSeconds != nil:
		if t := *cfg.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPTimeout {
			c.errorf(p.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), "invalid value %d: must be greater than 0 and less than or equal to %d", t, maxClientIPTimeout)
		}
	}
}

func validateServicePorts(c *checker, p *field.Path, ports []corev1.ServicePort, typ corev1.ServiceType, nodePorts bool) {
	names := map[string]bool{}
	seen := map[string]bool{}     // port/protocol
	nodeSeen := map[string]bool{} // nodePort/protocol
	for i, port := range ports {
		pp := p.Index(i)
		switch {
		case port.Name == "" && len(ports) > 1:
			c.errorf(pp.Child("name"), "required value: every port needs a name when a Service has more than one")
		case port.Name != "":
			c.invalid(pp.Child("name"), port.Name, validation.IsDNS1123Label(port.Name))
			if names[port.Name] {
				c.errorf(pp.Child("name"), "duplicate port name %q", port.Name)
			}
			names[port.Name] = true
		}
		c.invalid(pp.Child("port"), port.Port, validation.IsValidPortNum(int(port.Port)))
		c.oneOf(pp.Child("protocol"), string(port.Protocol), "TCP", "UDP", "SCTP")
		key := strconv.Itoa(int(port.Port)) + "/" + string(port.Protocol)
		if seen[key] {
			c.errorf(pp, "duplicate port %s", key)
		}
		seen[key] = true
		if port.TargetPort.Type == intstr.Int {
			c.invalid(pp.Child("targetPort"), port.TargetPort.IntVal, validation.IsValidPortNum(int(port.TargetPort.IntVal)))
		} else {
			c.invalid(pp.Child("targetPort"), port.TargetPort.StrVal, validation.IsValidPortName(port.TargetPort.StrVal))
		}
		if port.NodePort == 0 {
			continue
		}
		np := pp.Child("nodePort")
		if !nodePorts {
			c.errorf(np, "may not be set when type is %s", typ)
			continue
		}
		if port.NodePort < NodePortMin || port.NodePort > NodePortMax {
			c.errorf(np, "invalid value %d: must be in the range %d-%d", port.NodePort, NodePortMin, NodePortMax)
		}
		nkey := strconv.Itoa(int(port.NodePort)) + "/" + string(port.Protocol)
		if nodeSeen[nkey] {
			c.errorf(np, "duplicate nodePort %s", nkey)
		}
		nodeSeen[nkey] = true
	}
}
