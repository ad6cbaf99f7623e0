package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
)

// credentials are a server's identity and the secrets it checks. They live in the
// data dir: tls/ (ca.crt, ca.key, tls.crt, tls.key) and tokens/ (server, node, read:
// one accepted token per line, re-read when the file changes).
type credentials struct {
	dir          string
	ca           *pki.CA
	cert         tls.Certificate
	serverTokens *pki.TokenFile
	nodeTokens   *pki.TokenFile
	readTokens   *pki.TokenFile
	// created is true when this start made the CA and tokens (--bootstrap on an empty
	// data dir): the wiring then prints how to join.
	created bool
}

// credentialsRetry bounds how long a joining server keeps asking for credentials
// while the servers it names are not up yet.
const credentialsRetry = 5 * time.Minute

// loadCredentials finds or makes the cluster CA and this server's certificate. The CA
// comes from the data dir; else from the operator's CA files; else --bootstrap makes
// one (with fresh tokens); else a joining server fetches it from a member, pinned by
// its K10 server token.
func loadCredentials(ctx context.Context, cfg Config, logf func(string, ...any)) (*credentials, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: a data dir is required (it holds the cluster CA)")
	}
	c := &credentials{dir: cfg.DataDir}
	files := pki.ServerFiles{DataDir: cfg.DataDir}
	tlsDir := files.TLSDir()
	c.serverTokens = pki.NewTokenFile(files.ServerTokens())
	c.nodeTokens = pki.NewTokenFile(files.NodeTokens())
	c.readTokens = pki.NewTokenFile(files.ReadTokens())
	switch {
	case pki.HasCA(tlsDir):
	case cfg.CACertFile != "":
		cert, err := os.ReadFile(cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca-cert: %w", err)
		}
		key, err := os.ReadFile(cfg.CAKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca-key: %w", err)
		}
		ca, err := pki.ParseCA(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert/--ca-key: %w", err)
		}
		if err := pki.SaveCA(tlsDir, ca); err != nil {
			return nil, err
		}
		if err := c.initTokens(ca.Hash(), cfg.JoinToken); err != nil {
			return nil, err
		}
	case cfg.BootstrapExpect > 0:
		return nil, errors.New("--bootstrap-expect needs --ca-cert/--ca-key: every server must start from the same CA")
	case cfg.Bootstrap:
		ca, err := pki.NewCA("keelson-" + cfg.ID)
		if err != nil {
			return nil, err
		}
		if err := pki.SaveCA(tlsDir, ca); err != nil {
			return nil, err
		}
		if err := c.initTokens(ca.Hash(), cfg.JoinToken); err != nil {
			return nil, err
		}
		c.created = true
	case len(cfg.Join) > 0:
		if err := c.fetch(ctx, cfg, logf); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no cluster CA in %s: --bootstrap makes one, --join with the server token fetches it, --ca-cert/--ca-key gives one", tlsDir)
	}
	ca, err := pki.LoadCA(tlsDir)
	if err != nil {
		return nil, err
	}
	c.ca = ca
	// The server certificate is re-issued on every start, so it always names the
	// current addresses (and never expires while the server restarts now and then).
	certPEM, keyPEM, err := ca.IssueKeyPair(pki.RoleServer, cfg.ID, serverHosts(cfg))
	if err != nil {
		return nil, err
	}
	if err := pki.SaveKeyPair(tlsDir, certPEM, keyPEM); err != nil {
		return nil, err
	}
	if c.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, err
	}
	return c, nil
}

// initTokens writes the token files of a new cluster: the server token is the one the
// operator gave (pinned to this CA) or a fresh one; node and read tokens are fresh.
func (c *credentials) initTokens(caHash, given string) error {
	server := pki.NewToken(caHash)
	if given != "" {
		t, err := pki.ParseToken(given)
		if err != nil {
			return fmt.Errorf("server token: %w", err)
		}
		server.Secret = t.Secret
	}
	for f, tok := range map[*pki.TokenFile]pki.Token{
		c.serverTokens: server, c.nodeTokens: pki.NewToken(caHash), c.readTokens: pki.NewToken(caHash),
	} {
		if _, err := os.Stat(f.Path()); err == nil {
			continue // the operator's own file stays
		}
		if err := pki.WriteSecret(f.Path(), []byte(tok.String()+"\n")); err != nil {
			return err
		}
	}
	return nil
}

// fetch asks the servers in cfg.Join for the CA and token files, with the server token.
func (c *credentials) fetch(ctx context.Context, cfg Config, logf func(string, ...any)) error {
	if cfg.JoinToken == "" {
		return errors.New("--join needs the server token (KEELSON_TOKEN or --token-file: the tokens/server file of a member)")
	}
	tok, err := pki.ParseToken(cfg.JoinToken)
	if err != nil {
		return fmt.Errorf("server token: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, credentialsRetry)
	defer cancel()
	for {
		var errs []string
		for _, base := range cfg.Join {
			creds, err := fetchCredentials(ctx, strings.TrimRight(base, "/"), tok)
			if err == nil {
				return c.save(creds)
			}
			if errors.As(err, new(refusal)) {
				return err // a wrong pin or secret does not get better by waiting
			}
			errs = append(errs, err.Error())
		}
		logf("waiting for cluster credentials", "err", strings.Join(errs, "; "))
		select {
		case <-ctx.Done():
			return fmt.Errorf("get cluster credentials: %s", strings.Join(errs, "; "))
		case <-time.After(clusterRetry):
		}
	}
}

// refusal is a definite no from a server (or its CA not matching the pin).
type refusal struct{ error }

func fetchCredentials(ctx context.Context, base string, tok pki.Token) (api.ServerCredentials, error) {
	var out api.ServerCredentials
	caCert, _, err := pki.FetchPinnedCA(ctx, base+api.PathCA, tok.CAHash)
	if errors.Is(err, pki.ErrPinMismatch) {
		return out, refusal{err}
	}
	if err != nil {
		return out, err
	}
	pool := x509Pool(caCert)
	tr := &http.Transport{TLSClientConfig: pki.ClientTLS(pool, nil, pki.RoleServer)}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+api.PathServerCredentials, bytes.NewReader([]byte("{}")))
	if err != nil {
		return out, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Secret)
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return out, fmt.Errorf("POST %s: %w", api.PathServerCredentials, err)
	}
	defer drain(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorResponse
		_ = json.NewDecoder(resp.Body).Decode(&e)
		err := fmt.Errorf("POST %s%s: %s: %s", base, api.PathServerCredentials, resp.Status, e.Error)
		if resp.StatusCode/100 == 4 {
			return out, refusal{err}
		}
		return out, err
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("decode credentials: %w", err)
	}
	return out, nil
}

func (c *credentials) save(cr api.ServerCredentials) error {
	ca, err := pki.ParseCA([]byte(cr.CACert), []byte(cr.CAKey))
	if err != nil {
		return fmt.Errorf("credentials from the cluster: %w", err)
	}
	if err := pki.SaveCA(pki.ServerFiles{DataDir: c.dir}.TLSDir(), ca); err != nil {
		return err
	}
	for f, body := range map[*pki.TokenFile]string{c.serverTokens: cr.ServerTokens, c.nodeTokens: cr.NodeTokens, c.readTokens: cr.ReadTokens} {
		if err := pki.WriteSecret(f.Path(), []byte(body)); err != nil {
			return err
		}
	}
	return nil
}

// serverHosts are the SANs of a server certificate: every address it is reached at.
func serverHosts(cfg Config) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost", cfg.ID}
	for _, a := range []string{cfg.HTTPAddr, cfg.RaftAddr, cfg.RaftAdvertise} {
		if h, _, err := net.SplitHostPort(a); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
			hosts = append(hosts, h)
		}
	}
	if u, err := url.Parse(cfg.HTTPAdvertise); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	return append(hosts, cfg.ExtraSANs...)
}

// apiTLS serves the API with the server certificate; a client certificate from the
// cluster CA is optional (bearer tokens are the other credential) but verified when
// presented, and must carry a keelson role.
func (c *credentials) apiTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.cert}, ClientCAs: c.ca.Pool(),
		ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12,
		VerifyConnection: pki.AllowRoles(true, pki.RoleServer, pki.RoleNode, pki.RoleReader),
	}
}

// JoinInstructions says how to add servers, agents and readers to a cluster this
// server just bootstrapped. It names files, never their secret contents.
func (s *Server) JoinInstructions() string {
	if s.creds == nil || !s.creds.created {
		return ""
	}
	f := pki.ServerFiles{DataDir: s.cfg.DataDir}
	adv := s.cfg.HTTPAdvertise
	return fmt.Sprintf(`Keelson cluster created. CA: %s (sha256 %s)
Join another server (copy %s to it first):
  keelson server --id s2 --data-dir DIR --join %s --token-file %s ...
Join an agent (copy %s to the node; it is exchanged once for the node's certificate):
  keelson agent --name NODE --address NODE_IP --server %s --token-file %s ...
Read with the CLI:
  export KEELSON_SERVER=%s KEELSON_CA_FILE=%s KEELSON_TOKEN_FILE=%s
Revoke or rotate a token by editing the files in %s on every server (re-read at once).
`, f.CACert(), s.creds.ca.Hash(),
		f.ServerTokens(), adv, f.ServerTokens(),
		f.NodeTokens(), adv, f.NodeTokens(),
		adv, f.CACert(), f.ReadTokens(), f.TokenDir())
}

func x509Pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}
