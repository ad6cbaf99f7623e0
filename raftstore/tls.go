package raftstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// errNoTLS refuses a raft listener without mutual TLS: hashicorp/raft checks
// membership only on votes, so a plain TCP port lets anyone who knows the term
// append entries.
var errNoTLS = errors.New("raft listens only over mutual TLS: Config.TLS is required (or an in-memory Transport)")

// tlsStreamLayer carries raft's RPCs over mutually authenticated TLS: peers prove
// membership with a server certificate from the cluster CA, so a host that can reach
// the raft port cannot inject log entries.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	cfg       *tls.Config
}

func (l *tlsStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), l.cfg)
}

func (l *tlsStreamLayer) Addr() net.Addr {
	if l.advertise != nil {
		return l.advertise
	}
	return l.Listener.Addr()
}

func newTLSTransport(cfg Config, advertise net.Addr, hlog hclog.Logger) (*raft.NetworkTransport, error) {
	if cfg.TLS == nil {
		return nil, errNoTLS
	}
	if cfg.TLS.ClientAuth != tls.RequireAndVerifyClientCert || cfg.TLS.ClientCAs == nil {
		return nil, errors.New("raft TLS must require and verify client certificates (ClientAuth, ClientCAs)")
	}
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("raft TLS listen on %s: %w", cfg.BindAddr, err)
	}
	layer := &tlsStreamLayer{Listener: tls.NewListener(ln, cfg.TLS), advertise: advertise, cfg: cfg.TLS}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
	}), nil
}
