package api

import "testing"

// The pod fields of issue 15: each accepted with Kubernetes' validation, each mistake
// reported at its file:line with the field's path.
func TestPodFieldsValidation(t *testing.T) { checkErrorCases(t, podFieldCases()) }

func podFieldCases() []errorCase {
	return []errorCase{
		{"downward env and volume", pod("web", `    env:
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: URL, value: "http://$(NODE):80"}
    volumeMounts: [{name: info, mountPath: /etc/info}]
`, `  volumes:
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: cpu, resourceFieldRef: {containerName: web, resource: requests.cpu, divisor: 1m}, mode: 0400}
`), nil},
		{"bad env fieldPath", pod("web", "    env:\n    - {name: A, valueFrom: {fieldRef: {fieldPath: metadata.labels}}}\n", ""), []string{
			`t.yaml:10:40: Pod/web: spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: unsupported value "metadata.labels": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs", "metadata.labels['<KEY>']", "metadata.annotations['<KEY>']"`}},
		{"value and valueFrom", pod("web", "    env:\n    - {name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n", ""), []string{
			`t.yaml:10:27: Pod/web: spec.containers[0].env[0].valueFrom: may not be specified when value is not empty`}},
		{"resourceFieldRef divisor and container", pod("web", "    env:\n    - {name: A, valueFrom: {resourceFieldRef: {containerName: db, resource: limits.cpu, divisor: 3}}}\n", ""), []string{
			`t.yaml:10:48: Pod/web: spec.containers[0].env[0].valueFrom.resourceFieldRef.containerName: invalid value "db": the pod has no container of that name`,
			`t.yaml:10:89: Pod/web: spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: unsupported value "3": supported values: "1m", "1"`}},
		{"downward volume path", pod("web", "", "  volumes:\n  - name: i\n    downwardAPI: {items: [{path: ../x, fieldRef: {fieldPath: metadata.name}}, {path: y}]}\n"), []string{
			`t.yaml:11:28: Pod/web: spec.volumes[0].downwardAPI.items[0].path: invalid value "../x": must be a relative path without '..'`,
			`t.yaml:11:79: Pod/web: spec.volumes[0].downwardAPI.items[1]: must specify exactly one of fieldRef or resourceFieldRef`}},
		{"init containers", pod("web", "", "  initContainers:\n  - name: web\n    image: busybox\n    readinessProbe: {exec: {command: [x]}}\n"), []string{
			`t.yaml:7:5: Pod/web: spec.containers[0].name: duplicate container name "web"`,
			`t.yaml:12:39: Pod/web: spec.initContainers[0].readinessProbe: not supported by Keelson (see docs/fields.md)`}},
		{"hooks and probes", pod("web", `    ports: [{name: http, containerPort: 80}]
    lifecycle:
      postStart: {exec: {command: [/bin/setup]}}
      preStop: {httpGet: {path: /quit, port: http, httpHeaders: [{name: X-Stop, value: "1"}]}}
    startupProbe: {grpc: {port: 9090}, failureThreshold: 30}
    livenessProbe: {httpGet: {path: /, port: 80, httpHeaders: [{name: Host, value: x}]}}
`, ""), nil},
		{"hook without handler", pod("web", "    lifecycle:\n      preStop: {}\n", ""), []string{
			`t.yaml:10:7: Pod/web: spec.containers[0].lifecycle.preStop: must specify exactly one handler: exec or httpGet`}},
		{"startup successThreshold", pod("web", "    startupProbe: {exec: {command: [x]}, successThreshold: 2}\n", ""), []string{
			`t.yaml:9:42: Pod/web: spec.containers[0].startupProbe.successThreshold: invalid value 2: must be 1 for a liveness probe`}},
		{"security contexts", pod("web", `    securityContext:
      runAsUser: 1000
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
      seccompProfile: {type: RuntimeDefault}
`, "  securityContext: {runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, fsGroup: 2000, supplementalGroups: [3000]}\n"), nil},
		{"security mistakes", pod("web", `    securityContext:
      runAsUser: 0
      runAsNonRoot: true
      privileged: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [net-admin]}
`, "  securityContext: {runAsGroup: -1, seccompProfile: {type: Localhost}}\n"), []string{
			`t.yaml:11:7: Pod/web: spec.containers[0].securityContext.runAsNonRoot: runAsNonRoot is true but runAsUser is 0 (root)`,
			`t.yaml:13:7: Pod/web: spec.containers[0].securityContext.allowPrivilegeEscalation: cannot set allowPrivilegeEscalation to false and privileged to true`,
			`t.yaml:14:29: Pod/web: spec.containers[0].securityContext.capabilities.drop[0]: invalid value "net-admin": a capability name such as NET_BIND_SERVICE, CAP_CHOWN or ALL`,
			`t.yaml:15:21: Pod/web: spec.securityContext.runAsGroup: invalid value -1: must be greater than or equal to 0`,
			`t.yaml:15:54: Pod/web: spec.securityContext.seccompProfile.type: value "Localhost" is not supported by Keelson (supported: "RuntimeDefault", "Unconfined"; see docs/fields.md)`}},
		{"placement", pod("web", "", `  nodeName: n1
  tolerations:
  - {key: dedicated, operator: Equal, value: db, effect: NoSchedule}
  - {operator: Exists}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 30}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: disk, operator: In, values: [ssd]}, {key: cores, operator: Gt, values: ["4"]}]
      preferredDuringSchedulingIgnoredDuringExecution:
      - {weight: 1, preference: {matchExpressions: [{key: zone, operator: In, values: [a]}]}}
`), nil},
		{"placement mistakes", pod("web", "", `  nodeName: N_1
  tolerations:
  - {operator: Equal, value: x}
  - {key: k, operator: Exists, value: v}
  - {key: k, tolerationSeconds: 5, effect: NoSchedule}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: disk, operator: In}, {key: cores, operator: Gt, values: [many]}]
`), []string{
			`t.yaml:9:3: Pod/web: spec.nodeName: invalid value "N_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`t.yaml:11:6: Pod/web: spec.tolerations[0].operator: operator must be Exists when key is empty`,
			`t.yaml:12:14: Pod/web: spec.tolerations[1].operator: value must be empty when operator is Exists`,
			`t.yaml:13:36: Pod/web: spec.tolerations[2].effect: effect must be NoExecute when tolerationSeconds is set`,
			`t.yaml:18:30: Pod/web: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: required value: must be specified when operator is In or NotIn`,
			`t.yaml:18:93: Pod/web: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values[0]: invalid value "many": must be an integer when operator is Gt or Lt`}},
		{"still refused", pod("web", "    envFrom: [{configMapRef: {name: c}}]\n", "  imagePullSecrets: [{name: reg}]\n  volumes: [{name: d, awsElasticBlockStore: {volumeID: v, fsType: ext4}}]\n"), []string{
			`t.yaml:9:31: Pod/web: spec.containers[0].envFrom: not supported by Keelson (see docs/fields.md)`,
			`t.yaml:10:23: Pod/web: spec.imagePullSecrets: not supported by Keelson (see docs/fields.md)`,
			`t.yaml:11:46: Pod/web: spec.volumes[0].awsElasticBlockStore: not supported by Keelson (see docs/fields.md)`}},
		{"dual stack", svc("  ports: [{port: 80}]\n  ipFamilyPolicy: PreferDualStack\n"), nil},
		{"require dual stack", svc("  ports: [{port: 80}]\n  ipFamilyPolicy: RequireDualStack\n"), []string{
			`t.yaml:7:3: Service/web: spec.ipFamilyPolicy: value "RequireDualStack" is not supported by Keelson (supported: "SingleStack", "PreferDualStack"; see docs/fields.md)`}},
	}
}
