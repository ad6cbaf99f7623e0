package node

import (
	"log/slog"
	"time"

	"github.com/keelson/keelson/api"
)

// workerDeps is everything a pod worker needs from its agent, injected as values and
// narrow functions (as the kubelet's podWorkers get a syncPodFn) rather than the
// agent's pointer: a worker cannot reach the agent's connection loops, view or other
// pods, and a test can build one without an Agent. The field names are the Config
// names they come from.
type workerDeps struct {
	NodeName    string
	DataDir     string
	Allocatable api.Resources // what resourceFieldRef reports for a limit not set
	Runtime     Runtime
	Prober      Prober
	Clock       Clock
	Log         *slog.Logger
	// Report hands a status report to the agent's status reporter.
	Report func(api.PodStatusReport)

	// The operator's policy for this node.
	AllowedHostPaths  []string
	AllowPrivileged   bool
	AllowCapabilities []string

	// Pods' /etc/resolv.conf and /etc/hosts (dnsconfig.go): the cluster domain of the
	// newest view, the node's cluster DNS address and the host's resolv.conf.
	ClusterDomain  func() string
	DNSAddress     string
	HostResolvConf string

	SyncInterval   time.Duration
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	BackoffReset   time.Duration
	SpecSecond     time.Duration
	LogMaxBytes    int64
}

// workerDepsFrom takes a pod worker's share of the agent's configuration.
func workerDepsFrom(cfg *Config, log *slog.Logger, report func(api.PodStatusReport)) workerDeps {
	return workerDeps{
		NodeName: cfg.Name, DataDir: cfg.DataDir, Allocatable: cfg.Allocatable, Runtime: cfg.Runtime, Prober: cfg.Prober,
		Clock: cfg.Clock, Log: log, Report: report,
		AllowedHostPaths: cfg.AllowedHostPaths, AllowPrivileged: cfg.AllowPrivileged,
		AllowCapabilities: cfg.AllowCapabilities,
		DNSAddress:        cfg.DNSAddress, HostResolvConf: cfg.HostResolvConf,
		SyncInterval: cfg.SyncInterval, BackoffInitial: cfg.BackoffInitial,
		BackoffMax: cfg.BackoffMax, BackoffReset: cfg.BackoffReset,
		SpecSecond: cfg.SpecSecond, LogMaxBytes: cfg.LogMaxBytes,
	}
}
