package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// pod returns a Pod manifest whose container has the given extra lines (indented
// under the container) and extra spec lines.
func pod(name, containerExtra, specExtra string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  containers:\n  - name: web\n    image: nginx\n" + containerExtra + specExtra
}

func rc(spec string) string {
	return "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: web\nspec:\n" + spec
}

const rcTemplate = `  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: nginx}]
`

func svc(spec string) string {
	return "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n" + spec
}

func TestValidationRules(t *testing.T) {
	tests := []errorCase{
		{"pod name", pod("Web_1", "", ""), []string{
			`t.yaml:4:3: Pod/Web_1: metadata.name: invalid value "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"namespace", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: Shop\nspec: {containers: [{name: web, image: nginx}]}\n", []string{
			`t.yaml:5:3: Pod/Shop/web: metadata.namespace: invalid value "Shop": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"label syntax", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    -bad: ok\n    good: \"not ok!\"\nspec: {containers: [{name: web, image: nginx}]}\n", []string{
			`t.yaml:6:5: Pod/web: metadata.labels[-bad]: invalid label key "-bad": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`t.yaml:7:5: Pod/web: metadata.labels[good]: invalid label value "not ok!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"rc selector required", rc("  template:\n    spec:\n      containers: [{name: web, image: nginx}]\n"), []string{
			`t.yaml:5:1: ReplicationController/web: spec.selector: required value`}},
		{"rc selector must match template", rc("  selector: {app: other}\n" + rcTemplate), []string{
			`t.yaml:9:7: ReplicationController/web: spec.template.metadata.labels: the template's labels do not match spec.selector app=other`}},
		{"rc template restartPolicy", rc(rcTemplate + "      restartPolicy: Never\n"), []string{
			`t.yaml:11:7: ReplicationController/web: spec.template.spec.restartPolicy: unsupported value "Never": a ReplicationController's pods must use Always`}},
		{"rc template required", rc("  replicas: 2\n"), []string{
			`t.yaml:5:1: ReplicationController/web: spec.selector: required value`,
			`t.yaml:5:1: ReplicationController/web: spec.template: required value`}},
		{"unique container names", pod("web", "  - name: web\n    image: busybox\n", ""), []string{
			`t.yaml:9:5: Pod/web: spec.containers[1].name: duplicate container name "web"`}},
		{"unique port names", pod("web", "    ports:\n    - {name: http, containerPort: 80}\n    - {name: http, containerPort: 81}\n", ""), []string{
			`t.yaml:11:8: Pod/web: spec.containers[0].ports[1].name: duplicate port name "http" in the pod`}},
		{"volume mount needs a volume", pod("web", "    volumeMounts: [{name: data, mountPath: /data}]\n", ""), []string{
			`t.yaml:9:21: Pod/web: spec.containers[0].volumeMounts[0].name: volume "data" is not declared in the pod's volumes`}},
		{"container port range", pod("web", "    ports: [{containerPort: 70000}]\n", ""), []string{
			`t.yaml:9:14: Pod/web: spec.containers[0].ports[0].containerPort: invalid value 70000: must be between 1 and 65535, inclusive`}},
		{"resources parse and compare", pod("web", "    resources:\n      requests: {cpu: 2}\n      limits: {cpu: 500m}\n", ""), []string{
			`t.yaml:10:18: Pod/web: spec.containers[0].resources.requests[cpu]: invalid value "2": must be less than or equal to cpu limit of 500m`}},
		{"env name", pod("web", "    env: [{name: \"1 bad\", value: x}]\n", ""), []string{
			`t.yaml:9:12: Pod/web: spec.containers[0].env[0].name: invalid value "1 bad": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`}},
		{"probe needs a handler", pod("web", "    readinessProbe: {periodSeconds: 5}\n", ""), []string{
			`t.yaml:9:5: Pod/web: spec.containers[0].readinessProbe: must specify a handler: httpGet, tcpSocket or exec`}},
		{"liveness successThreshold", pod("web", "    livenessProbe: {tcpSocket: {port: 80}, successThreshold: 2}\n", ""), []string{
			`t.yaml:9:44: Pod/web: spec.containers[0].livenessProbe.successThreshold: invalid value 2: must be 1 for a liveness probe`}},
		{"probe named port", pod("web", "    readinessProbe: {httpGet: {port: http}}\n", ""), []string{
			`t.yaml:9:32: Pod/web: spec.containers[0].readinessProbe.httpGet.port: invalid value "http": the container has no port of that name`}},
		{"restartPolicy", pod("web", "", "  restartPolicy: Sometimes\n"), []string{
			`t.yaml:9:3: Pod/web: spec.restartPolicy: unsupported value "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{"imagePullPolicy", pod("web", "    imagePullPolicy: Maybe\n", ""), []string{
			`t.yaml:9:5: Pod/web: spec.containers[0].imagePullPolicy: unsupported value "Maybe": supported values: "Always", "IfNotPresent", "Never"`}},
		{"hostPath must be absolute", pod("web", "", "  volumes: [{name: h, hostPath: {path: var/log}}]\n"), []string{
			`t.yaml:9:34: Pod/web: spec.volumes[0].hostPath.path: invalid value "var/log": must be an absolute path`}},
		{"service name", "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: [{port: 80}]}\n", []string{
			`t.yaml:3:12: Service/1web: metadata.name: invalid value "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`}},
		{"service ports required", svc("  selector: {app: web}\n"), []string{
			`t.yaml:5:1: Service/web: spec.ports: required value: a Service needs at least one port`}},
		{"headless service needs no ports", svc("  clusterIP: None\n"), nil},
		{"service port names", svc("  ports: [{port: 80}, {port: 81}]\n"), []string{
			`t.yaml:6:11: Service/web: spec.ports[0].name: required value: every port needs a name when a Service has more than one`,
			`t.yaml:6:23: Service/web: spec.ports[1].name: required value: every port needs a name when a Service has more than one`}},
		{"nodePort range", svc("  type: NodePort\n  ports: [{port: 80, nodePort: 80}]\n"), []string{
			`t.yaml:7:22: Service/web: spec.ports[0].nodePort: invalid value 80: must be in the range 30000-32767`}},
		{"nodePort needs NodePort type", svc("  ports: [{port: 80, nodePort: 30001}]\n"), []string{
			`t.yaml:6:22: Service/web: spec.ports[0].nodePort: may not be set when type is ClusterIP`}},
		{"clusterIP syntax", svc("  clusterIP: 10.0.0.300\n  ports: [{port: 80}]\n"), []string{
			`t.yaml:6:3: Service/web: spec.clusterIP: invalid value "10.0.0.300": must be None or an IPv4 address`}},
		{"headless NodePort", svc("  type: NodePort\n  clusterIP: None\n  ports: [{port: 80}]\n"), []string{
			`t.yaml:7:3: Service/web: spec.clusterIP: may not be None for a NodePort Service`}},
		{"ExternalName rules", svc("  type: ExternalName\n  clusterIP: 10.0.0.1\n"), []string{
			`t.yaml:5:1: Service/web: spec.externalName: required value`,
			`t.yaml:7:3: Service/web: spec.clusterIP: may not be set for an ExternalName Service`}},
		{"ExternalName ok", svc("  type: ExternalName\n  externalName: db.example.com.\n"), nil},
		{"targetPort name", svc("  ports: [{port: 80, targetPort: Not_A_Name}]\n"), []string{
			`t.yaml:6:22: Service/web: spec.ports[0].targetPort: invalid value "Not_A_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`}},
		{"session affinity timeout", svc("  ports: [{port: 80}]\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}\n"), []string{
			`t.yaml:8:38: Service/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: invalid value 0: must be greater than 0 and less than or equal to 86400`}},
	}
	checkErrorCases(t, tests)
}

func TestCrossFileRules(t *testing.T) {
	service := func(name, extra string) []byte {
		return []byte("apiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec:\n  type: NodePort\n" + extra)
	}
	_, errs := Decode([]File{
		{Path: "a.yaml", Data: []byte(pod("web", "", "") + "---\n" + string(service("one", "  clusterIP: 10.96.0.10\n  ports: [{port: 80, nodePort: 30080}]\n")))},
		{Path: "b.yaml", Data: []byte(pod("web", "", "") + "---\n" + string(service("two", "  clusterIP: 10.96.0.10\n  ports: [{port: 80, nodePort: 30080}]\n")))},
	})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`b.yaml:4:3: Pod/web: metadata.name: defined twice: first at a.yaml:1`,
		`b.yaml:15:3: Service/two: spec.clusterIP: clusterIP 10.96.0.10 is already used by Service/default/one (a.yaml:15:3)`,
		`b.yaml:16:22: Service/two: spec.ports[0].nodePort: nodePort 30080 is already used by Service/default/one (a.yaml:16:22)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestServiceDefaults(t *testing.T) {
	m, errs := Decode([]File{{Path: "s.yaml", Data: []byte(svc("  sessionAffinity: ClientIP\n  ports: [{port: 80, name: http}, {port: 53, name: dns, protocol: UDP, targetPort: 5353}]\n"))}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s := m.Services[0].Spec
	if s.Type != corev1.ServiceTypeClusterIP || *s.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800 ||
		s.Ports[0].Protocol != corev1.ProtocolTCP || s.Ports[0].TargetPort.IntVal != 80 || s.Ports[1].TargetPort.IntVal != 5353 {
		t.Errorf("defaults: %+v", s)
	}
}
