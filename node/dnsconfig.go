package node

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// This file gives pods their names the way the kubelet does: a per-pod
// /etc/resolv.conf from dnsPolicy and dnsConfig, a per-pod /etc/hosts with the pod's
// own name and hostAliases, and the container hostname.

// DNSServer is the node-local cluster DNS (node/dns.Server): it is handed every view's
// services and endpoints.
type DNSServer interface {
	Update(domain string, services []api.ServiceRecord, endpoints []api.Endpoints)
}

// defaultClusterDomain is used until a view says otherwise (an older server).
const defaultClusterDomain = "cluster.local"

// Kubernetes' resolver limits (glibc's), applied after merging dnsConfig.
const (
	maxNameservers = 3
	maxSearches    = 32
)

// clusterDNS remembers the cluster domain of the last view for the pods' files, and
// what the DNS server was last fed (used only by the watch loop).
type clusterDNS struct {
	domain atomic.Pointer[string]

	fed          bool
	fedDomain    string
	fedServices  []api.ServiceRecord
	fedEndpoints []api.Endpoints
}

func (d *clusterDNS) clusterDomain() string {
	if p := d.domain.Load(); p != nil && *p != "" {
		return *p
	}
	return defaultClusterDomain
}

// observeDNS takes the cluster domain of a view and feeds the DNS server its records
// when they changed: most views change only pods, and rebuilding the record index of
// thousands of services for each would be wasted work (netSync skips the proxy alike).
func (a *Agent) observeDNS(_ context.Context, view *api.NodeView) {
	domain := cmp.Or(view.ClusterDomain, defaultClusterDomain)
	a.dns.domain.Store(&domain)
	d := a.dns
	if a.cfg.DNS == nil || (d.fed && domain == d.fedDomain &&
		reflect.DeepEqual(d.fedServices, view.Services) && reflect.DeepEqual(d.fedEndpoints, view.Endpoints)) {
		return
	}
	a.cfg.DNS.Update(domain, view.Services, view.Endpoints)
	d.fed, d.fedDomain, d.fedServices, d.fedEndpoints = true, domain, view.Services, view.Endpoints
}

// addPodDNS sets the container's hostname and mounts the pod's resolv.conf and hosts
// (written in the pod's directory, rewritten only when their content changes: a
// running container sees the same file).
func (w *podWorker) addPodDNS(cfg *ContainerConfig) error {
	domain := w.deps.ClusterDomain()
	host, fqdn := podHostnames(w.pod, domain)
	cfg.Hostname = host
	if w.pod.Spec.SetHostnameAsFQDN != nil && *w.pod.Spec.SetHostnameAsFQDN && fqdn != "" {
		if len(fqdn) > 64 {
			return fmt.Errorf("setHostnameAsFQDN: %q is longer than 64 characters", fqdn)
		}
		cfg.Hostname = fqdn
	}
	hostConf, err := os.ReadFile(w.deps.HostResolvConf)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", w.deps.HostResolvConf, err)
	}
	files := []struct{ name, container, content string }{
		{"resolv.conf", "/etc/resolv.conf", resolvConf(&w.pod.Spec, w.pod.Namespace, domain, w.deps.DNSAddress, parseResolvConf(hostConf))},
		{"hosts", "/etc/hosts", hostsFile(w.sandbox.IP, host, fqdn, w.pod.Spec.HostAliases)},
	}
	for _, f := range files {
		p := filepath.Join(w.podDir(), f.name)
		if old, err := os.ReadFile(p); err != nil || !bytes.Equal(old, []byte(f.content)) {
			if err := os.MkdirAll(w.podDir(), 0o755); err != nil {
				return fmt.Errorf("pod directory: %w", err)
			}
			if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", f.name, err)
			}
		}
		cfg.Mounts = append(cfg.Mounts, Mount{HostPath: p, ContainerPath: f.container, ReadOnly: true})
	}
	return nil
}

// podHostnames is the pod's hostname (spec.hostname, else the pod name cut to 63
// characters as the kubelet does) and, with a subdomain, its FQDN
// hostname.subdomain.ns.svc.domain.
func podHostnames(p *api.PodRecord, domain string) (host, fqdn string) {
	host = p.Spec.Hostname
	if host == "" {
		host = p.Name
		if len(host) > 63 {
			host = strings.TrimRight(host[:63], "-.")
		}
	}
	if p.Spec.Subdomain != "" {
		fqdn = host + "." + p.Spec.Subdomain + "." + cmp.Or(p.Namespace, api.DefaultNamespace) + ".svc." + domain
	}
	return host, fqdn
}

// resolverConf is the content of a resolv.conf.
type resolverConf struct {
	nameservers, searches, options []string
}

// parseResolvConf reads nameserver, search (or domain) and options lines.
func parseResolvConf(b []byte) resolverConf {
	var rc resolverConf
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			rc.nameservers = append(rc.nameservers, f[1])
		case "search", "domain": // the last one wins, as in glibc
			rc.searches = slices.Clone(f[1:])
		case "options":
			rc.options = append(rc.options, f[1:]...)
		}
	}
	return rc
}

// resolvConf renders a pod's resolv.conf as the kubelet does: ClusterFirst (the
// default; ClusterFirstWithHostNet is the same without hostNetwork) names the node's
// cluster DNS with the namespace's search path before the host's, and ndots:5;
// Default is the host's configuration; None starts empty. dnsConfig is then merged:
// nameservers and searches appended without duplicates, options replacing those of
// the same name. Without a cluster DNS address ClusterFirst falls back to Default.
func resolvConf(spec *corev1.PodSpec, namespace, domain, clusterDNS string, host resolverConf) string {
	var rc resolverConf
	policy := cmp.Or(spec.DNSPolicy, corev1.DNSClusterFirst)
	if (policy == corev1.DNSClusterFirst || policy == corev1.DNSClusterFirstWithHostNet) && clusterDNS == "" {
		policy = corev1.DNSDefault
	}
	switch policy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		ns := cmp.Or(namespace, api.DefaultNamespace)
		rc.nameservers = []string{clusterDNS}
		rc.searches = append([]string{ns + ".svc." + domain, "svc." + domain, domain}, host.searches...)
		rc.options = []string{"ndots:5"}
	case corev1.DNSDefault:
		rc = host
	}
	if c := spec.DNSConfig; c != nil {
		rc.nameservers = append(rc.nameservers, c.Nameservers...)
		rc.searches = append(rc.searches, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			rc.options = slices.DeleteFunc(rc.options, func(s string) bool { return optionName(s) == o.Name })
			rc.options = append(rc.options, opt)
		}
	}
	rc.nameservers = firstN(dedupe(rc.nameservers), maxNameservers)
	rc.searches = firstN(dedupe(rc.searches), maxSearches)
	var b strings.Builder
	b.WriteString("# Generated by keelson for this pod (dnsPolicy " + string(policy) + ").\n")
	for _, ns := range rc.nameservers {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(rc.searches) > 0 {
		b.WriteString("search " + strings.Join(rc.searches, " ") + "\n")
	}
	if len(rc.options) > 0 {
		b.WriteString("options " + strings.Join(rc.options, " ") + "\n")
	}
	return b.String()
}

func optionName(opt string) string {
	name, _, _ := strings.Cut(opt, ":")
	return name
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

// hostsFile renders the pod's /etc/hosts as the kubelet does.
func hostsFile(podIP, host, fqdn string, aliases []corev1.HostAlias) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (keelson).\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n")
	if podIP != "" {
		if fqdn != "" {
			b.WriteString(podIP + "\t" + fqdn + "\t" + host + "\n")
		} else {
			b.WriteString(podIP + "\t" + host + "\n")
		}
	}
	if len(aliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range aliases {
			b.WriteString(a.IP + "\t" + strings.Join(a.Hostnames, "\t") + "\n")
		}
	}
	return b.String()
}
