// Package nodetest has test helpers for the node agent, as net/http/httptest has for
// net/http: an in-memory Runtime for unit tests and many-node simulations.
package nodetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keelson/keelson/node"
)

var _ node.Runtime = (*FakeRuntime)(nil)

// FakeRuntime is an in-memory Runtime. It exists for two consumers: the unit tests of
// the pod worker state machine, which need to script what containers do (exit codes,
// SIGTERM handling, exec results, pull failures), and the many-node simulation, which
// needs thousands of "nodes" in one process. So it keeps state in maps under one mutex
// and uses no goroutine per container: a scripted delayed exit is a time.AfterFunc,
// and only a StopContainer that must wait out a grace period blocks (its caller's
// goroutine).
type FakeRuntime struct {
	mu         sync.Mutex
	images     map[string]bool
	pullFail   map[string]error
	sandboxes  map[string]*node.Sandbox // by pod UID
	broken     map[string]string        // pod UID -> why its sandbox is broken (BreakSandbox)
	netnsGone  map[string]bool          // pod UIDs whose namespace is gone (RemoveNetNS)
	usedIPs    map[string]string        // IP -> pod UID
	containers map[string]*fakeContainer
	scripts    map[string]ContainerScript // by container name (spec name)
	execCodes  map[string]int             // by container name
	loopback   bool
	stats      FakeStats
	reconciled []map[string]bool
	record     bool     // RecordEvents was called
	events     []string // "start NAME", "exec NAME CMD...", "stop NAME", in order
}

// RecordEvents makes the fake keep the log Events returns. It is off by default so
// that many-node simulations do not grow a log per probe.
func (f *FakeRuntime) RecordEvents() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record = true
}

func (f *FakeRuntime) eventLocked(e string) {
	if f.record {
		f.events = append(f.events, e)
	}
}

// Events lists, in order, the containers started ("start NAME"), the commands run in
// them ("exec NAME ARG..."; probes and hooks) and the stops ("stop NAME"), so tests
// can check ordering: init containers before app containers, preStop before SIGTERM.
func (f *FakeRuntime) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// ContainerScript says what containers with a given spec name do once started.
type ContainerScript struct {
	// Exit makes the container exit by itself with ExitCode, ExitAfter after it starts
	// (immediately when ExitAfter is 0). Without Exit it runs until stopped.
	Exit      bool
	ExitAfter time.Duration
	ExitCode  int32
	// IgnoreTERM makes StopContainer wait the whole grace period and then SIGKILL
	// (exit code 137). Otherwise SIGTERM ends the container with TERMExitCode.
	IgnoreTERM bool
	// TERMExitCode is the exit code after a handled SIGTERM (default 143 = 128+15).
	TERMExitCode int32
}

// FakeStats counts runtime calls, so tests can assert "no duplicates".
type FakeStats struct {
	Pulls             int
	SandboxesCreated  int
	SandboxesRemoved  int
	HealthChecks      int // SandboxHealthy calls
	ContainersCreated int
	ContainersStarted int
	ContainersStopped int
	ContainersRemoved int
}

type fakeContainer struct {
	info   node.ContainerInfo
	cfg    node.ContainerConfig
	script ContainerScript
	timer  *time.Timer
	logs   []string
}

// NewFakeRuntime returns an empty fake runtime.
func NewFakeRuntime() *FakeRuntime {
	return &FakeRuntime{
		images:     map[string]bool{},
		pullFail:   map[string]error{},
		sandboxes:  map[string]*node.Sandbox{},
		broken:     map[string]string{},
		netnsGone:  map[string]bool{},
		usedIPs:    map[string]string{},
		containers: map[string]*fakeContainer{},
		scripts:    map[string]ContainerScript{},
		execCodes:  map[string]int{},
	}
}

// UseLoopbackIPs makes every sandbox get 127.0.0.1, so that tests can point real HTTP
// and TCP probes at an httptest server on the host.
func (f *FakeRuntime) UseLoopbackIPs() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loopback = true
}

// ScriptContainer sets what containers named name do when started from now on.
func (f *FakeRuntime) ScriptContainer(name string, s ContainerScript) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[name] = s
}

// SetExecResult makes Exec in containers named name return code.
func (f *FakeRuntime) SetExecResult(name string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execCodes[name] = code
}

// FailPull makes pulling ref fail with err (nil clears it).
func (f *FakeRuntime) FailPull(ref string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.pullFail, ref)
		return
	}
	f.pullFail[ref] = err
}

// AddImage makes ref present locally (as if pulled earlier).
func (f *FakeRuntime) AddImage(ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images[ref] = true
}

// ExitContainer makes the running container id exit now with code.
func (f *FakeRuntime) ExitContainer(id string, code int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("exit %s: %w", id, node.ErrNotFound)
	}
	f.exitLocked(c, code)
	return nil
}

// AppendLog adds a line to a container's in-memory log (served by Logs).
func (f *FakeRuntime) AppendLog(id, line string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("log %s: %w", id, node.ErrNotFound)
	}
	c.logs = append(c.logs, line)
	return nil
}

// Stats returns the call counters.
func (f *FakeRuntime) Stats() FakeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// ReconcileCalls returns the live sets passed to ReconcileIPs, oldest first.
func (f *FakeRuntime) ReconcileCalls() []map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]bool(nil), f.reconciled...)
}

// EnsureImage implements Runtime.
func (f *FakeRuntime) EnsureImage(ctx context.Context, ref, policy string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	present := f.images[ref]
	switch {
	case policy == "Never" && !present:
		return "", fmt.Errorf("image %s not present and pull policy is Never", ref)
	case policy == "IfNotPresent" && present, policy == "Never":
		return ref, nil
	}
	if err := f.pullFail[ref]; err != nil {
		return "", fmt.Errorf("pull %s: %w", ref, err)
	}
	f.stats.Pulls++
	f.images[ref] = true
	return ref, nil
}

// CreateSandbox implements Runtime: idempotent per pod UID, one IP from PodCIDR.
func (f *FakeRuntime) CreateSandbox(ctx context.Context, cfg node.SandboxConfig) (node.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb, ok := f.sandboxes[cfg.PodUID]; ok && !f.netnsGone[cfg.PodUID] {
		return *sb, nil
	} else if ok {
		// As the containerd runtime does: a sandbox whose namespace is gone is made
		// again (same address) while its containers stay in the dead namespace.
		delete(f.broken, cfg.PodUID)
		delete(f.netnsGone, cfg.PodUID)
		sb.CreatedAt = time.Now()
		f.stats.SandboxesCreated++
		return *sb, nil
	}
	ip := "127.0.0.1"
	if !f.loopback {
		var err error
		if ip, err = f.allocIPLocked(cfg.PodCIDR, cfg.PodUID); err != nil {
			return node.Sandbox{}, err
		}
	}
	sb := &node.Sandbox{PodUID: cfg.PodUID, Namespace: cfg.Namespace, Name: cfg.Name, IP: ip,
		NetNSPath: "/var/run/netns/fake-" + cfg.PodUID, CreatedAt: time.Now()}
	f.sandboxes[cfg.PodUID] = sb
	f.stats.SandboxesCreated++
	return *sb, nil
}

// allocIPLocked hands out the lowest free host address of cidr (skipping the network
// address and the .1 gateway), like host-local does.
func (f *FakeRuntime) allocIPLocked(cidr, uid string) (string, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || n.IP.To4() == nil {
		return "", fmt.Errorf("sandbox %s: bad pod CIDR %q", uid, cidr)
	}
	ones, bits := n.Mask.Size()
	base := binary.BigEndian.Uint32(n.IP.To4())
	for i := uint32(2); i < 1<<(bits-ones)-1; i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+i)
		if _, used := f.usedIPs[ip.String()]; !used {
			f.usedIPs[ip.String()] = uid
			return ip.String(), nil
		}
	}
	return "", fmt.Errorf("sandbox %s: pod CIDR %s exhausted", uid, cidr)
}

// RemoveSandbox implements Runtime.
func (f *FakeRuntime) RemoveSandbox(ctx context.Context, podUID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb, ok := f.sandboxes[podUID]
	if !ok {
		return nil
	}
	if f.usedIPs[sb.IP] == podUID {
		delete(f.usedIPs, sb.IP)
	}
	delete(f.sandboxes, podUID)
	delete(f.broken, podUID)
	delete(f.netnsGone, podUID)
	f.stats.SandboxesRemoved++
	return nil
}

// BreakSandbox makes SandboxHealthy of the pod's current sandbox report why, as if
// its network namespace, veth or bridge had been destroyed behind the agent's back.
// Its containers keep running; RemoveSandbox clears it, so the next sandbox is healthy.
func (f *FakeRuntime) BreakSandbox(podUID, why string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sandboxes[podUID]; !ok {
		return fmt.Errorf("break sandbox of %s: %w", podUID, node.ErrNotFound)
	}
	f.broken[podUID] = why
	return nil
}

// RemoveNetNS is BreakSandbox for a removed network namespace (`ip netns del`, a
// reboot): unlike other breakage, CreateSandbox then makes the sandbox again instead of
// returning it, and the pod's containers stay behind in the dead namespace.
func (f *FakeRuntime) RemoveNetNS(podUID string) error {
	if err := f.BreakSandbox(podUID, "network namespace /var/run/netns/fake-"+podUID+" is gone"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.netnsGone[podUID] = true
	return nil
}

// SandboxHealthy implements Runtime: not ok for an unknown or broken sandbox.
func (f *FakeRuntime) SandboxHealthy(ctx context.Context, podUID string) (bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.HealthChecks++
	if _, ok := f.sandboxes[podUID]; !ok {
		return false, "the sandbox is gone", nil
	}
	if why, ok := f.broken[podUID]; ok {
		return false, why, nil
	}
	return true, "", nil
}

// ListSandboxes implements Runtime.
func (f *FakeRuntime) ListSandboxes(ctx context.Context) ([]node.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]node.Sandbox, 0, len(f.sandboxes))
	for _, sb := range f.sandboxes {
		out = append(out, *sb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PodUID < out[j].PodUID })
	return out, nil
}

// FakeContainerID is the deterministic container ID the fake uses.
func FakeContainerID(podUID, name string, attempt int32) string {
	return fmt.Sprintf("%s_%s_%d", podUID, name, attempt)
}

// CreateContainer implements Runtime.
func (f *FakeRuntime) CreateContainer(ctx context.Context, cfg node.ContainerConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := FakeContainerID(cfg.PodUID, cfg.Name, cfg.Attempt)
	if _, ok := f.containers[id]; ok {
		return id, nil
	}
	if _, ok := f.sandboxes[cfg.PodUID]; !ok {
		return "", fmt.Errorf("create %s: sandbox of pod %s: %w", id, cfg.PodUID, node.ErrNotFound)
	}
	if !f.images[cfg.Image] {
		return "", fmt.Errorf("create %s: image %s: %w", id, cfg.Image, node.ErrNotFound)
	}
	// The fake's images all run as root, as most real ones do.
	if sc := cfg.Security; sc.RunAsNonRoot && (sc.RunAsUser == nil || *sc.RunAsUser == 0) {
		return "", fmt.Errorf("create %s: %w: runAsNonRoot and the image runs as root", id, node.ErrContainerConfig)
	}
	f.containers[id] = &fakeContainer{cfg: cfg, info: node.ContainerInfo{
		ID: id, PodUID: cfg.PodUID, Name: cfg.Name, Attempt: cfg.Attempt, Image: cfg.Image,
		State: "created", LogPath: cfg.LogPath,
	}}
	f.stats.ContainersCreated++
	return id, nil
}

// ContainerConfigOf returns the config a container was created with (for tests).
func (f *FakeRuntime) ContainerConfigOf(id string) (node.ContainerConfig, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return node.ContainerConfig{}, false
	}
	return c.cfg, true
}

// StartContainer implements Runtime.
func (f *FakeRuntime) StartContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("start %s: %w", id, node.ErrNotFound)
	}
	if c.info.State != "created" {
		return fmt.Errorf("start %s: container is %s", id, c.info.State)
	}
	c.script = f.scripts[c.info.Name]
	f.eventLocked("start " + c.info.Name)
	c.info.State = "running"
	c.info.StartedAt = time.Now()
	f.stats.ContainersStarted++
	if c.script.Exit {
		if c.script.ExitAfter <= 0 {
			f.exitLocked(c, c.script.ExitCode)
		} else {
			code := c.script.ExitCode
			c.timer = time.AfterFunc(c.script.ExitAfter, func() {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.exitLocked(c, code)
			})
		}
	}
	return nil
}

// exitLocked moves a running container to exited.
func (f *FakeRuntime) exitLocked(c *fakeContainer, code int32) {
	if c.info.State != "running" {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.info.State = "exited"
	c.info.ExitCode = code
	c.info.FinishedAt = time.Now()
}

// StopContainer implements Runtime: SIGTERM, then SIGKILL after grace when the script
// ignores SIGTERM.
func (f *FakeRuntime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	f.mu.Lock()
	c, ok := f.containers[id]
	if !ok || c.info.State != "running" {
		f.mu.Unlock()
		return nil
	}
	f.eventLocked("stop " + c.info.Name)
	f.stats.ContainersStopped++
	if !c.script.IgnoreTERM {
		code := c.script.TERMExitCode
		if code == 0 {
			code = 128 + 15
		}
		f.exitLocked(c, code)
		f.mu.Unlock()
		return nil
	}
	f.mu.Unlock()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exitLocked(c, 128+9)
	return nil
}

// RemoveContainer implements Runtime.
func (f *FakeRuntime) RemoveContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return nil
	}
	if c.info.State == "running" {
		return fmt.Errorf("remove %s: container is running", id)
	}
	delete(f.containers, id)
	f.stats.ContainersRemoved++
	return nil
}

// ContainerStatus implements Runtime.
func (f *FakeRuntime) ContainerStatus(ctx context.Context, id string) (node.ContainerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return node.ContainerInfo{}, fmt.Errorf("status %s: %w", id, node.ErrNotFound)
	}
	return c.info, nil
}

// ListContainers implements Runtime.
func (f *FakeRuntime) ListContainers(ctx context.Context) ([]node.ContainerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]node.ContainerInfo, 0, len(f.containers))
	for _, c := range f.containers {
		out = append(out, c.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Exec implements Runtime: the result is scripted per container name (default 0).
func (f *FakeRuntime) Exec(ctx context.Context, id string, cmd []string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return 0, fmt.Errorf("exec in %s: %w", id, node.ErrNotFound)
	}
	if c.info.State != "running" {
		return 0, fmt.Errorf("exec in %s: container is %s", id, c.info.State)
	}
	f.eventLocked(strings.Join(append([]string{"exec", c.info.Name}, cmd...), " "))
	return f.execCodes[c.info.Name], nil
}

// Logs implements Runtime: it writes the lines added by AppendLog; with Follow it
// then waits for ctx to end (lines appended later are not streamed).
func (f *FakeRuntime) Logs(ctx context.Context, id string, w io.Writer, opts node.LogOptions) error {
	f.mu.Lock()
	c, ok := f.containers[id]
	if !ok {
		f.mu.Unlock()
		return fmt.Errorf("logs of %s: %w", id, node.ErrNotFound)
	}
	lines := c.logs
	if opts.Tail > 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(strings.TrimSuffix(l, "\n") + "\n")
	}
	f.mu.Unlock()
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("logs of %s: %w", id, err)
	}
	if opts.Follow {
		<-ctx.Done()
	}
	return nil
}

// ReconcileIPs implements the agent's optional IP reconciliation: it records the call
// and frees addresses held by pods that have no sandbox and are not live.
func (f *FakeRuntime) ReconcileIPs(ctx context.Context, live map[string]bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := make(map[string]bool, len(live))
	for k, v := range live {
		cp[k] = v
	}
	f.reconciled = append(f.reconciled, cp)
	for ip, uid := range f.usedIPs {
		if _, hasSandbox := f.sandboxes[uid]; !hasSandbox && !live[uid] {
			delete(f.usedIPs, ip)
		}
	}
	return nil
}
