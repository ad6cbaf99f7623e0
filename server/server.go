// Package server is the control-plane process: it wires the replicated store, the Git
// source and the reconciler, serves the HTTP API (read-only status, node endpoints,
// webhook), forwards writes to the leader and runs the leader's duties while it leads.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
)

// Server is one control-plane server.
type Server struct {
	cfg       Config
	logger    *slog.Logger
	store     *raftstore.Store
	ownsStore bool
	deps      Deps
	client    *http.Client
	metrics   *metrics
	handler   http.Handler
	hb        *heartbeats
	hook      http.Handler // Git webhook, nil when none
	creds     *credentials
	statuses  *reportCommitter
	blocking  *blockingLimiter // caps on blocking queries (blocking.go)

	srcMu  sync.Mutex
	source Source // the leader's current Git source, nil otherwise
}

// New builds a server; it opens the raft store unless deps.Store is given.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg.defaults()
	if cfg.ID == "" {
		return nil, errors.New("server: empty ID")
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, logger: logger, deps: deps, hb: newHeartbeats(), blocking: newBlockingLimiter(maxBlockingPerClient, maxBlockingTotal)}
	s.statuses = &reportCommitter{apply: s.apply}
	creds, err := loadCredentials(context.Background(), cfg, logger.Info)
	if err != nil {
		return nil, err
	}
	s.creds = creds
	s.client = serverClient(creds)
	s.store = deps.Store
	if s.store == nil {
		rc := raftstore.Config{
			ID: cfg.ID, DataDir: filepath.Join(cfg.DataDir, "raft"), BindAddr: cfg.RaftAddr, AdvertiseAddr: cfg.RaftAdvertise,
			Bootstrap: cfg.Bootstrap, Transport: cfg.RaftTransport, InMemory: cfg.RaftInMemory,
			Logger: logger.With("component", "raftstore"), SnapshotThreshold: cfg.SnapshotThreshold,
		}
		if cfg.RaftFastTimeouts {
			rc.UseFastTimeouts()
		}
		// Raft runs only over mutual TLS that admits server certificates: hashicorp/raft
		// applies AppendEntries from anyone who knows the term.
		if cfg.RaftTransport == nil {
			rc.TLS = pki.MutualTLS(creds.ca.Pool(), creds.cert, pki.RoleServer)
		}
		st, err := raftstore.Open(rc)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		s.store, s.ownsStore = st, true
	}
	s.metrics = newMetrics(s.store)
	if deps.Webhook != nil {
		s.hook = deps.Webhook(s.triggerSource)
	}
	s.handler = s.routes()
	return s, nil
}

// serverClient is how this server calls other servers (forwarding, joining) and
// agents (logs): it presents the server certificate and trusts only the cluster CA.
func serverClient(c *credentials) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = pki.ClientTLS(c.ca.Pool(), &c.cert)
	// No client timeout: forwarded blocking queries and log follows are long; every
	// request carries its caller's context instead.
	return &http.Client{Transport: tr}
}

// TLSConfig is the API's TLS configuration (tests serve Handler() with it).
func (s *Server) TLSConfig() *tls.Config { return s.creds.apiTLS() }

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's replica (tests, wiring).
func (s *Server) Store() *raftstore.Store { return s.store }

// Run serves the API (when Config.HTTPAddr is set), joins or bootstraps the cluster,
// and runs the leader's duties whenever this server leads, until ctx ends. It closes
// the store it opened.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1)

	var srv *http.Server
	if s.cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.cfg.HTTPAddr, err)
		}
		srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.TLSConfig(),
			ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
			// Requests inherit ctx so blocking queries end when the server stops.
			BaseContext: func(net.Listener) context.Context { return ctx }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				select {
				case errc <- fmt.Errorf("serve HTTP: %w", err):
				default:
				}
				cancel()
			}
		}()
		s.logger.Info("serving API", "addr", s.cfg.HTTPAddr, "advertise", s.cfg.HTTPAdvertise)
	}

	wg.Add(4)
	go func() { defer wg.Done(); s.decommissionLoop(ctx) }()
	go func() { defer wg.Done(); s.formCluster(ctx) }()
	go func() { defer wg.Done(); s.registerSelfLoop(ctx) }()
	go func() { defer wg.Done(); s.leadershipLoop(ctx) }()

	<-ctx.Done()
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	wg.Wait()
	var err error
	if s.ownsStore {
		err = s.store.Close()
	}
	select {
	case e := <-errc:
		return e
	default:
	}
	return err
}

// drain discards the rest of a response body so the connection can be reused.
func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	_ = r.Close()
}
