package api

import "testing"

func TestValidateDNSFields(t *testing.T) {
	checkErrorCases(t, []errorCase{
		{"every dns field accepted", pod("web", "", `  dnsPolicy: None
  dnsConfig:
    nameservers: [10.0.0.2, "2001:db8::1"]
    searches: [corp.example, example.]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  hostname: web-0
  subdomain: web
  setHostnameAsFQDN: true
  hostAliases: [{ip: 10.1.2.3, hostnames: [foo.local, bar]}]
`), nil},
		{"cluster first with host net", pod("web", "", "  dnsPolicy: ClusterFirstWithHostNet\n  dnsConfig: {searches: [a.example]}\n"), nil},
		{"unknown policy", pod("web", "", "  dnsPolicy: Cluster\n"), []string{
			`t.yaml:9:3: Pod/web: spec.dnsPolicy: value "Cluster" is not supported by Keelson (supported: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"; see docs/fields.md)`}},
		{"None needs dnsConfig", pod("web", "", "  dnsPolicy: None\n"), []string{
			"t.yaml:5:1: Pod/web: spec.dnsConfig: required value: must provide `dnsConfig` when `dnsPolicy` is None"}},
		{"None needs a nameserver", pod("web", "", "  dnsPolicy: None\n  dnsConfig: {searches: [a.example]}\n"), []string{
			"t.yaml:10:3: Pod/web: spec.dnsConfig.nameservers: required value: must provide at least one DNS nameserver when `dnsPolicy` is None"}},
		{"limits and syntax", pod("web", "", `  dnsConfig:
    nameservers: [1.1.1.1, 1.0.0.1, 8.8.8.8, 9.9.9.9, not-an-ip]
    searches: [Bad_Domain]
    options: [{value: "1"}]
`), []string{
			`t.yaml:10:5: Pod/web: spec.dnsConfig.nameservers: too many: 5, must have at most 3`,
			`t.yaml:10:55: Pod/web: spec.dnsConfig.nameservers[4]: invalid value "not-an-ip": must be a valid IP address`,
			`t.yaml:11:16: Pod/web: spec.dnsConfig.searches[0]: invalid value "Bad_Domain": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`t.yaml:12:15: Pod/web: spec.dnsConfig.options[0].name: required value`}},
		{"hostname and subdomain are labels", pod("web", "", "  hostname: a.b\n  subdomain: Web\n"), []string{
			`t.yaml:9:3: Pod/web: spec.hostname: invalid value "a.b": must not contain dots`,
			`t.yaml:10:3: Pod/web: spec.subdomain: invalid value "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"host alias ip", pod("web", "", "  hostAliases: [{ip: 300.1.1.1, hostnames: [ok]}]\n"), []string{
			`t.yaml:9:18: Pod/web: spec.hostAliases[0].ip: invalid value "300.1.1.1": must be a valid IP address`}},
	})
}
