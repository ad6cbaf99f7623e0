package raftstore

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// tlsStreamLayer carries raft's RPCs over mutually authenticated TLS: peers prove
// membership with a certificate from the cluster CA, so a host that can reach the raft
// port cannot inject log entries.
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
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("raft TLS listen on %s: %w", cfg.BindAddr, err)
	}
	layer := &tlsStreamLayer{Listener: tls.NewListener(ln, cfg.TLS), advertise: advertise, cfg: cfg.TLS}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
	}), nil
}

// MutualTLS builds the raft TLS configuration from PEM files: this server's
// certificate and key, and the cluster CA that signed every server's certificate.
func MutualTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load raft TLS key pair: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read raft TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("raft TLS CA %s: no certificates", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: pool, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}, nil
}
