package node

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keelson/keelson/api"
)

// Config is everything an Agent needs. Zero durations take the defaults documented on
// each field, so production code sets none of them and tests shrink only what they wait
// for.
type Config struct {
	Name    string
	Address string // the node's IP on the cluster network
	// AgentListen is the HTTPS address of the agent's log endpoint ("" = no server).
	AgentListen string
	// AgentURL is advertised to the servers for `keelson logs`; default
	// https://Address:<port of AgentListen>.
	AgentURL string
	DataDir  string
	Labels   map[string]string
	Taints   []api.Taint // registered with the node; see ParseTaints
	// Capacity defaults to the host's CPUs and MemTotal; Allocatable to Capacity.
	Capacity    api.Resources
	Allocatable api.Resources
	// TLS serves the log endpoint: the node's certificate, and client certificates
	// required and admitted only with the server role (pki.MutualTLS). Required
	// with AgentListen: there is no plaintext endpoint.
	TLS *tls.Config

	HeartbeatInterval   time.Duration // default 2s
	StatusBatchInterval time.Duration // default 200ms
	WatchWait           time.Duration // blocking-query wait, default 30s
	// SyncInterval is how often a pod worker re-reads its containers' state when
	// nothing else wakes it (the PLEG-like relist), default 1s.
	SyncInterval time.Duration
	// ResyncInterval is how often the agent re-asserts the service proxy's rules and the
	// routes to other nodes against the kernel (repairing what someone changed behind
	// its back), default 5s; kube-proxy's full resync is 30s or more.
	ResyncInterval time.Duration
	// RetryMax caps the backoff between failed calls to the servers, default 10s.
	RetryMax time.Duration

	// CrashLoopBackOff: the first restart waits BackoffInitial, each further one twice
	// as long up to BackoffMax; a container that ran BackoffReset starts over.
	BackoffInitial time.Duration // default 10s
	BackoffMax     time.Duration // default 5m
	BackoffReset   time.Duration // default 10m

	// SpecSecond is how long one "second" of a pod spec lasts (probe periods, delays,
	// timeouts, terminationGracePeriodSeconds). Always 1s except in tests.
	SpecSecond time.Duration
	// LogMaxBytes rotates a container log past this size (keeping one old file),
	// default 10 MiB.
	LogMaxBytes int64

	Runtime      Runtime
	ControlPlane ControlPlane
	Proxy        ServiceProxy // nil = no service proxy
	Routes       RouteSyncer  // nil = no route sync
	// Prober runs probes; default: HTTP/TCP from the host to the pod IP, exec through
	// the Runtime.
	Prober Prober

	// DNS is the node-local cluster DNS, fed every view (nil = none); DNSAddress is the
	// address ClusterFirst pods' resolv.conf names ("" = no cluster DNS: such pods get
	// the host's resolvers, as with a kubelet without --cluster-dns); HostResolvConf is
	// the host's resolver configuration for dnsPolicy Default (default
	// /etc/resolv.conf).
	DNS                        DNSServer
	DNSAddress, HostResolvConf string

	AllowedHostPaths []string
	AllowPrivileged  bool
	// AllowCapabilities lists the Linux capabilities (without "CAP_") a container's
	// securityContext.capabilities.add may name; "ALL" allows any. Privileged
	// containers may add any.
	AllowCapabilities []string
	Logger            *slog.Logger
	Clock             Clock
}

// withDefaults validates cfg and fills in the defaults.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if cfg.Name == "" {
		errs = append(errs, errors.New("node name is required"))
	}
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("data dir is required"))
	}
	if cfg.Runtime == nil {
		errs = append(errs, errors.New("runtime is required"))
	}
	if cfg.ControlPlane == nil {
		errs = append(errs, errors.New("control plane is required"))
	}
	if cfg.AgentListen != "" && (cfg.TLS == nil || cfg.TLS.ClientAuth != tls.RequireAndVerifyClientCert) {
		errs = append(errs, errors.New("the log endpoint needs mutual TLS (the node certificate, server certificates required)"))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("agent config: %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.HeartbeatInterval, 2*time.Second)
	def(&cfg.StatusBatchInterval, 200*time.Millisecond)
	def(&cfg.WatchWait, 30*time.Second)
	def(&cfg.SyncInterval, time.Second)
	def(&cfg.RetryMax, 10*time.Second)
	def(&cfg.ResyncInterval, 5*time.Second)
	def(&cfg.BackoffInitial, 10*time.Second)
	def(&cfg.BackoffMax, 5*time.Minute)
	def(&cfg.BackoffReset, 10*time.Minute)
	def(&cfg.SpecSecond, time.Second)
	if cfg.LogMaxBytes <= 0 {
		cfg.LogMaxBytes = 10 << 20
	}
	if cfg.Capacity == (api.Resources{}) {
		c, err := HostCapacity()
		if err != nil {
			return cfg, fmt.Errorf("agent config: %w", err)
		}
		cfg.Capacity = c
	}
	if cfg.Allocatable == (api.Resources{}) {
		cfg.Allocatable = cfg.Capacity
	}
	if cfg.AgentURL == "" && cfg.AgentListen != "" {
		cfg.AgentURL = agentURL(cfg.Address, cfg.AgentListen)
	}
	cfg.HostResolvConf = cmp.Or(cfg.HostResolvConf, "/etc/resolv.conf")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Prober == nil {
		cfg.Prober = NewProber(cfg.Runtime)
	}
	return cfg, nil
}
