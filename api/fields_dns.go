package api

// dnsRules are the pod spec fields of cluster DNS and the pod's own name files
// (/etc/resolv.conf, /etc/hosts, hostname), honored by the node agent as the kubelet
// does.
func dnsRules() []FieldRule {
	return []FieldRule{
		{Path: "dnsPolicy", Support: Honored, Values: []string{"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"},
			Note: "default ClusterFirst: the node's cluster DNS; Default: the node's resolv.conf; None: dnsConfig only; ClusterFirstWithHostNet acts as ClusterFirst (no hostNetwork)"},
		{Path: "dnsConfig.nameservers", Support: Honored, Note: "at most 3 in all, merged after the policy's"},
		{Path: "dnsConfig.searches", Support: Honored, Note: "at most 32, merged after the policy's"},
		{Path: "dnsConfig.options[*].name", Support: Honored, Note: "an option of the same name replaces the policy's (ndots:5)"},
		{Path: "dnsConfig.options[*].value", Support: Honored},
		{Path: "hostAliases[*].ip", Support: Honored, Note: "added to the pod's /etc/hosts"},
		{Path: "hostAliases[*].hostnames", Support: Honored},
		{Path: "hostname", Support: Honored, Note: "default: the pod name (first 63 characters)"},
		{Path: "subdomain", Support: Honored, Note: "with a headless Service of that name: hostname.subdomain.ns.svc.<domain> resolves to the pod"},
		{Path: "setHostnameAsFQDN", Support: Honored},
	}
}
