package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/reconciler"
)

// Source is the Git source as the leader needs it (gitsource implements it).
type Source interface {
	// Run blocks until ctx ends, delivering each new branch head, valid or not.
	Run(ctx context.Context, deliver func(api.Revision)) error
	// Trigger asks for a fetch now (webhook).
	Trigger()
	// Status reports the source's condition.
	Status() api.SourceStatus
}

// Planner is one pure reconcile step (reconciler.Plan with its config bound).
type Planner func(in reconciler.Observed) reconciler.Result

// Config is everything `keelson server` is told by its flags.
type Config struct {
	ID string
	// DataDir holds raft/ (log, stable store, snapshots); the wiring may keep more
	// there (git/ for clones).
	DataDir string
	// HTTPAddr is the API listen address; "" means Run does not listen and the caller
	// serves Handler() (tests with httptest).
	HTTPAddr string
	// HTTPAdvertise is the URL other servers use to reach this one (forwarding, logs);
	// default http(s)://HTTPAddr.
	HTTPAdvertise string
	// RaftAddr is the raft listen address; RaftAdvertise what peers dial (default RaftAddr).
	RaftAddr, RaftAdvertise string

	// Bootstrap starts a new single-server cluster (when there is no raft state).
	Bootstrap bool
	// BootstrapExpect waits until this many servers (itself and those reachable at Join)
	// know each other, then all bootstrap with the same voter list.
	BootstrapExpect int
	// Join lists HTTP URLs of servers to ask for membership (or, with
	// BootstrapExpect, the other expected servers).
	Join []string

	// ClusterToken authenticates agents and servers; ReadToken (optional) guards the
	// read API, which then also accepts the cluster token. Empty ClusterToken disables
	// authentication (single-user dev only).
	ClusterToken, ReadToken string

	// TLSCertFile/TLSKeyFile serve the HTTP API over TLS; TLSCAFile (optional) verifies
	// other servers and agents when forwarding and proxying logs. With all three set,
	// raft also runs over mutual TLS (every server's certificate signed by that CA).
	TLSCertFile, TLSKeyFile, TLSCAFile string

	// ReconcileInterval is the reconcile loop's timer, for heartbeats turning stale
	// without any store change (default 1s).
	ReconcileInterval time.Duration
	// MaxWait caps a blocking query's wait (default 5m).
	MaxWait time.Duration
	// ClusterDomain is the DNS domain agents serve services under (default cluster.local).
	ClusterDomain string

	// Raft tuning and test hooks.
	RaftTransport     raft.Transport // tests: in-memory transport
	RaftInMemory      bool           // tests: no disk
	RaftFastTimeouts  bool           // tests
	SnapshotThreshold uint64
}

// Deps are the parts wired in from other packages. All are optional.
type Deps struct {
	Logger *slog.Logger
	// Store is a store opened by the caller (tests); nil: New opens one from Config.
	Store *raftstore.Store
	// NewSource makes the Git source when this server becomes leader; nil: no source.
	NewSource func() (Source, error)
	// Webhook builds the Git webhook handler around the leader's trigger; nil: no hook.
	Webhook func(trigger func()) http.Handler
	// Planner is the reconcile step; nil: no reconciler (tests of the API alone).
	Planner Planner
	// Web builds the read-only web page (server/web) around this server's API and
	// store, mounted at /ui/; nil: no page.
	Web func(readAPI http.Handler, store *raftstore.Store) http.Handler
	// Reconciler is the configuration Planner runs with, published at GET /v1/config
	// so `keelson plan --server` previews with it (zero fields: the defaults).
	Reconciler reconciler.Config
	// HTTPClient is used to forward to the leader and proxy logs (default: one with the
	// TLS CA from Config).
	HTTPClient *http.Client
}

func (c *Config) defaults() {
	if c.ReconcileInterval <= 0 {
		c.ReconcileInterval = time.Second
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 5 * time.Minute
	}
	if c.HTTPAdvertise == "" && c.HTTPAddr != "" {
		scheme := "http"
		if c.TLSCertFile != "" {
			scheme = "https"
		}
		c.HTTPAdvertise = scheme + "://" + c.HTTPAddr
	}
}
