package api

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kubernetes' limits on a pod's resolver configuration (the glibc limits it checks
// against in pkg/apis/core/validation).
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

// validatePodDNS checks dnsConfig, hostAliases, hostname and subdomain as Kubernetes
// does (dnsPolicy's values are the fields table's).
func validatePodDNS(c *checker, p *field.Path, s *corev1.PodSpec) {
	if s.Hostname != "" {
		c.invalid(p.Child("hostname"), s.Hostname, validation.IsDNS1123Label(s.Hostname))
	}
	if s.Subdomain != "" {
		c.invalid(p.Child("subdomain"), s.Subdomain, validation.IsDNS1123Label(s.Subdomain))
	}
	validateDNSConfig(c, p.Child("dnsConfig"), s.DNSPolicy, s.DNSConfig)
	for i, a := range s.HostAliases {
		ap := p.Child("hostAliases").Index(i)
		if _, err := netip.ParseAddr(a.IP); err != nil {
			c.errorf(ap.Child("ip"), "invalid value %q: must be a valid IP address", a.IP)
		}
		for j, h := range a.Hostnames {
			c.invalid(ap.Child("hostnames").Index(j), h, validation.IsDNS1123Subdomain(h))
		}
	}
}

func validateDNSConfig(c *checker, p *field.Path, policy corev1.DNSPolicy, cfg *corev1.PodDNSConfig) {
	if policy == corev1.DNSNone {
		if cfg == nil {
			c.errorf(p, "required value: must provide `dnsConfig` when `dnsPolicy` is None")
			return
		}
		if len(cfg.Nameservers) == 0 {
			c.errorf(p.Child("nameservers"), "required value: must provide at least one DNS nameserver when `dnsPolicy` is None")
		}
	}
	if cfg == nil {
		return
	}
	if len(cfg.Nameservers) > maxDNSNameservers {
		c.errorf(p.Child("nameservers"), "too many: %d, must have at most %d", len(cfg.Nameservers), maxDNSNameservers)
	}
	for i, ns := range cfg.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			c.errorf(p.Child("nameservers").Index(i), "invalid value %q: must be a valid IP address", ns)
		}
	}
	if len(cfg.Searches) > maxDNSSearchPaths {
		c.errorf(p.Child("searches"), "too many: %d, must have at most %d", len(cfg.Searches), maxDNSSearchPaths)
	}
	if n := len(strings.Join(cfg.Searches, " ")); n > maxDNSSearchListChars {
		c.errorf(p.Child("searches"), "too long: %d characters, must have at most %d", n, maxDNSSearchListChars)
	}
	for i, s := range cfg.Searches {
		if s == "." {
			continue // the root, as Kubernetes allows
		}
		s = strings.TrimSuffix(s, ".")
		c.invalid(p.Child("searches").Index(i), cfg.Searches[i], validation.IsDNS1123Subdomain(s))
	}
	for i, o := range cfg.Options {
		if o.Name == "" {
			c.required(p.Child("options").Index(i).Child("name"))
		}
	}
}
