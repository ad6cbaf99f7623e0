package dns

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/server/client"
)

// app is three services wired only by DNS names: a ClusterIP backend, a headless db
// (an RC's pods plus a bare pod with hostname/subdomain) and an ExternalName partner,
// and a frontend pod with a hostAlias from which the test looks names up.
const app = `apiVersion: v1
kind: ReplicationController
metadata: {name: backend, namespace: shop}
spec:
  replicas: 1
  selector: {app: backend}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers:
      - name: web
        image: REGISTRY/keelson/web:v1
        args: ["-listen", ":8080", "-message", "hello from backend"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: shop}
spec:
  selector: {app: backend}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: db, namespace: shop}
spec:
  replicas: 2
  selector: {app: db}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: web
        image: REGISTRY/keelson/web:v1
        args: ["-listen", ":8080", "-message", "db"]
        ports: [{name: web, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: cache-0, namespace: shop, labels: {app: db}}
spec:
  hostname: cache-0
  subdomain: db
  containers:
  - name: web
    image: REGISTRY/keelson/web:v1
    args: ["-listen", ":8080", "-message", "cache"]
    ports: [{name: web, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: web, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: partner, namespace: shop}
spec:
  type: ExternalName
  externalName: api.partner.test
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: shop, labels: {app: frontend}}
spec:
  hostAliases: [{ip: 10.1.2.3, hostnames: [legacy-db.corp]}]
  dnsConfig:
    options: [{name: timeout, value: "2"}]
  containers:
  - name: web
    image: REGISTRY/keelson/web:v1
    args: ["-listen", ":8080", "-message", "frontend"]
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`

func TestServiceDiscovery(t *testing.T) {
	up := startUpstream(t)
	k := newCluster(t)
	k.push("deploy an app wired by DNS names", map[string]string{"app.yaml": app})
	pods := k.readyPods(3*time.Minute, 5)
	frontend := pods["frontend"]

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	svcs, _, err := k.c.Services(ctx, client.QueryOptions{})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var backendIP string
	for _, s := range svcs {
		if s.Namespace == namespace && s.Name == "backend" {
			backendIP = s.Spec.ClusterIP
		}
	}
	var dbIPs []string
	for name, p := range pods {
		if strings.HasPrefix(name, "db-") || name == "cache-0" {
			dbIPs = append(dbIPs, p.Status.PodIP)
		}
	}
	slices.Sort(dbIPs)
	svcDomain := namespace + ".svc." + clusterDomain

	// expect polls the frontend's answer to a lookup (the DNS server follows the
	// agent's view, which may trail the API by a moment).
	expect := func(what string, q url.Values, check func(string) error) {
		t.Helper()
		testenv.EventuallyNoError(t, 30*time.Second, what, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			body, err := fromPod(ctx, frontend, "/resolve", q)
			if err != nil {
				return err
			}
			return check(body)
		})
	}
	equal := func(want string) func(string) error {
		return func(got string) error {
			if got != want {
				return fmt.Errorf("got %q, want %q", got, want)
			}
			return nil
		}
	}
	name := func(n string) url.Values { return url.Values{"name": {n}} }
	typed := func(n, typ string) url.Values { return url.Values{"name": {n}, "type": {typ}} }

	expect("short name → ClusterIP", name("backend"), equal(backendIP))
	expect("name.namespace → ClusterIP", name("backend."+namespace), equal(backendIP))
	expect("FQDN → ClusterIP", name("backend."+svcDomain+"."), equal(backendIP))
	expect("headless → every ready pod IP", name("db"), equal(strings.Join(dbIPs, "\n")))
	expect("hostname.subdomain → that pod", name("cache-0.db"), equal(pods["cache-0"].Status.PodIP))
	expect("SRV of a named port", typed("_http._tcp.backend", "SRV"), equal("backend."+svcDomain+". 80"))
	expect("SRV of a headless service: one per pod", typed("_web._tcp.db", "SRV"), func(got string) error {
		lines := strings.Split(got, "\n")
		if len(lines) != 3 || !slices.Contains(lines, "cache-0.db."+svcDomain+". 8080") {
			return fmt.Errorf("got %q, want 3 targets on port 8080 with cache-0.db.%s.", lines, svcDomain)
		}
		return nil
	})
	expect("ExternalName → CNAME", typed("partner", "CNAME"), equal(partnerName))
	expect("ExternalName → the target's address", name("partner"), equal(partnerIP))
	expect("an outside name through the forwarder", name(strings.TrimSuffix(outsideName, ".")), equal(outsideIP))
	if up.asked[outsideName].Load() == 0 {
		t.Errorf("the stand-in resolver was never asked for %s", outsideName)
	}
	expect("hostAliases in /etc/hosts", typed("legacy-db.corp", "host"), equal("10.1.2.3"))

	// Each node's pods ask their own node's DNS server, and every node's server
	// answers for the whole cluster.
	for _, a := range agents {
		var p api.PodRecord
		for _, q := range pods {
			if q.Node == a.name {
				p = q
			}
		}
		if p.UID == "" {
			t.Fatalf("no pod on node %s: the test needs both nodes' DNS servers", a.name)
		}
		conf, err := os.ReadFile(filepath.Join(k.dir, a.name, "pods", p.UID, "resolv.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "nameserver " + a.dnsAddress + "\nsearch " + svcDomain + " svc." + clusterDomain + " " + clusterDomain; !strings.Contains(string(conf), want) {
			t.Errorf("%s on %s: resolv.conf\n%s\nlacks %q", p.Name, a.name, conf, want)
		}
		testenv.EventuallyNoError(t, 30*time.Second, "backend by name from a pod on "+a.name, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := fromPod(ctx, p, "/resolve", name("backend"))
			if err == nil && got != backendIP {
				err = fmt.Errorf("got %q, want %q", got, backendIP)
			}
			return err
		})
	}

	// Missing names are NXDOMAIN (404 from /resolve), not a timeout.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if body, err := fromPod(ctx, frontend, "/resolve", name("nothing-here")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a missing name: %q %v, want 404", body, err)
	}

	// The app itself: the frontend calls the backend by short name and by FQDN.
	for _, u := range []string{"http://backend/", "http://backend." + svcDomain + "/"} {
		testenv.EventuallyNoError(t, 30*time.Second, "frontend → "+u, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			body, err := fromPod(ctx, frontend, "/call", url.Values{"url": {u}})
			if err == nil && !strings.Contains(body, "hello from backend") {
				err = fmt.Errorf("answer %q", body)
			}
			return err
		})
	}
	// The container hostname is the pod's hostname.
	if h, err := fromPod(ctx, pods["cache-0"], "/hostname", nil); err != nil || h != "cache-0" {
		t.Errorf("cache-0's hostname: %q %v", h, err)
	}

	// An endpoint change changes the answer: scale db to 3.
	k.push("scale db", map[string]string{"app.yaml": strings.Replace(app, "replicas: 2", "replicas: 3", 1)})
	pods = k.readyPods(2*time.Minute, 6)
	var ips []string
	for name, p := range pods {
		if strings.HasPrefix(name, "db-") || name == "cache-0" {
			ips = append(ips, p.Status.PodIP)
		}
	}
	slices.Sort(ips)
	expect("headless answer after scaling", name("db"), equal(strings.Join(ips, "\n")))
}
