package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/internal/backoff"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Prober runs one probe once; nil means success. It is an interface so tests can
// replace the network side; the default probes from the host, which reaches pod IPs
// over the CNI bridge.
type Prober interface {
	Probe(ctx context.Context, t ProbeTarget, p *corev1.Probe) error
}

// ProbeTarget is the container a probe is aimed at.
type ProbeTarget struct {
	PodIP       string
	ContainerID string
	Container   *corev1.Container
}

// NewProber returns the default prober: httpGet and tcpSocket from the host to the pod
// IP, exec through rt.
func NewProber(rt Runtime) Prober {
	return &hostProber{rt: rt, client: &http.Client{
		Transport: &http.Transport{
			Proxy:             nil, // never send probes through an operator's HTTP proxy
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // as the kubelet: probes check liveness, not identity
		},
	}}
}

type hostProber struct {
	rt     Runtime
	client *http.Client
}

func (p *hostProber) Probe(ctx context.Context, t ProbeTarget, pr *corev1.Probe) error {
	switch h := pr.ProbeHandler; {
	case h.Exec != nil:
		code, err := p.rt.Exec(ctx, t.ContainerID, h.Exec.Command)
		if err != nil {
			return fmt.Errorf("exec probe: %w", err)
		}
		if code != 0 {
			return fmt.Errorf("exec probe: exit code %d", code)
		}
		return nil
	case h.HTTPGet != nil:
		return p.httpGet(ctx, t, h.HTTPGet)
	case h.GRPC != nil:
		return grpcProbe(ctx, t.PodIP, h.GRPC)
	case h.TCPSocket != nil:
		port, err := resolvePort(h.TCPSocket.Port, t.Container)
		if err != nil {
			return err
		}
		host := h.TCPSocket.Host
		if host == "" {
			host = t.PodIP
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("tcp probe: %w", err)
		}
		return conn.Close()
	default:
		return errors.New("probe has no supported handler")
	}
}

func (p *hostProber) httpGet(ctx context.Context, t ProbeTarget, g *corev1.HTTPGetAction) error {
	port, err := resolvePort(g.Port, t.Container)
	if err != nil {
		return err
	}
	host := g.Host
	if host == "" {
		host = t.PodIP
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+path, nil)
	if err != nil {
		return fmt.Errorf("http probe: %w", err)
	}
	req.Header.Set("User-Agent", "keelson-probe")
	for _, hd := range g.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value // Go sends req.Host, never a Host entry of Header (the kubelet does the same)
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("http probe: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("http probe: status %d", resp.StatusCode)
	}
	return nil
}

// resolvePort turns a probe port (number or container port name) into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("probe port %d out of range", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	if c != nil {
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return int(cp.ContainerPort), nil
			}
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil && n > 0 && n <= 65535 {
		return n, nil
	}
	return 0, fmt.Errorf("probe port %q is no port of the container", p.StrVal)
}

// probeResults is the shared state between one container attempt's probe goroutines
// and its worker. A nil *probeResults means "no probes ran": not ready, not failed.
type probeResults struct {
	id         string
	cancel     context.CancelFunc
	mu         sync.Mutex
	ready      bool
	liveFailed bool
	liveWhy    string
}

func (p *probeResults) isReady() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready
}

func (p *probeResults) livenessFailed() (bool, string) {
	if p == nil {
		return false, ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.liveFailed, p.liveWhy
}

func (cs *ctrState) stopProbes() {
	if cs.probes != nil && cs.probes.cancel != nil {
		cs.probes.cancel()
	}
	cs.probes = nil
}

func (w *podWorker) stopAllProbes() {
	for _, cs := range w.ctrs {
		cs.stopProbes()
	}
}

// ensureProbes starts the probe goroutines of a running attempt once. A container
// without probes costs no goroutine: it is ready as soon as it runs. A startup probe
// holds back readiness and liveness until it succeeds, as in Kubernetes, and its
// failure restarts the container like a failed liveness probe.
func (w *podWorker) ensureProbes(ctx context.Context, cs *ctrState, c *corev1.Container) {
	if cs.probes != nil && cs.probes.id == cs.id {
		return
	}
	cs.stopProbes()
	pr := &probeResults{id: cs.id, ready: c.ReadinessProbe == nil && c.StartupProbe == nil}
	cs.probes = pr
	if c.ReadinessProbe == nil && c.LivenessProbe == nil && c.StartupProbe == nil {
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	pr.cancel = cancel
	target := ProbeTarget{PodIP: w.sandbox.IP, ContainerID: cs.id, Container: c}
	w.probeWG.Add(1)
	go func() {
		defer w.probeWG.Done()
		if c.StartupProbe != nil {
			if !w.runProbe(pctx, c.StartupProbe, startupProbe, target, pr) {
				return
			}
			if c.ReadinessProbe == nil {
				pr.mu.Lock()
				pr.ready = true
				pr.mu.Unlock()
				w.wake()
			}
		}
		var wg sync.WaitGroup
		for _, p := range []struct {
			probe *corev1.Probe
			kind  probeKind
		}{{c.ReadinessProbe, readinessProbe}, {c.LivenessProbe, livenessProbe}} {
			if p.probe == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.runProbe(pctx, p.probe, p.kind, target, pr)
			}()
		}
		wg.Wait()
	}()
}

type probeKind int

const (
	readinessProbe probeKind = iota
	livenessProbe
	startupProbe
)

// runProbe probes periodically with the Kubernetes defaults (period 10, timeout 1,
// success 1, failure 3 "seconds"/times). Readiness flips after successThreshold
// successes or failureThreshold failures in a row; liveness and startup report a
// failure after failureThreshold failures and end (the container is restarted with
// new probes); startup ends with true at its first success.
func (w *podWorker) runProbe(ctx context.Context, p *corev1.Probe, kind probeKind, t ProbeTarget, pr *probeResults) bool {
	unit := w.deps.SpecSecond
	secs := func(v, def int32) time.Duration {
		if v <= 0 {
			v = def
		}
		return time.Duration(v) * unit
	}
	period, timeout := secs(p.PeriodSeconds, 10), secs(p.TimeoutSeconds, 1)
	success, failure := max(p.SuccessThreshold, 1), p.FailureThreshold
	if failure <= 0 {
		failure = 3
	}
	if p.InitialDelaySeconds > 0 && !backoff.Sleep(ctx, time.Duration(p.InitialDelaySeconds)*unit) {
		return false
	}
	fatal := kind != readinessProbe
	var okRun, failRun int32
	for {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := w.deps.Prober.Probe(pctx, t, p)
		cancel()
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			okRun, failRun = okRun+1, 0
		} else {
			okRun, failRun = 0, failRun+1
		}
		if kind == startupProbe && okRun >= 1 {
			return true
		}
		changed := false
		pr.mu.Lock()
		switch {
		case fatal && failRun >= failure:
			why := "liveness probe failed: " + err.Error()
			if kind == startupProbe {
				why = "startup probe failed: " + err.Error()
			}
			pr.liveFailed, pr.liveWhy, changed = true, why, true
		case kind == readinessProbe && okRun >= success && !pr.ready:
			pr.ready, changed = true, true
		case kind == readinessProbe && failRun >= failure && pr.ready:
			pr.ready, changed = false, true
		}
		pr.mu.Unlock()
		if changed {
			w.wake()
		}
		if fatal && failRun >= failure {
			return false
		}
		if !backoff.Sleep(ctx, period) {
			return false
		}
	}
}
