package devenv

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/server/client"
)

// Credentials are the ones a bootstrap server made in its data dir, exactly as a user
// gets them: the dev cluster and the tests never build credentials by hand.
type Credentials struct {
	// ServerDataDir is the --data-dir of the server that ran --bootstrap.
	ServerDataDir string
}

func (c Credentials) files() pki.ServerFiles { return pki.ServerFiles{DataDir: c.ServerDataDir} }

// CAFile is the cluster CA certificate (what KEELSON_CA_FILE points at).
func (c Credentials) CAFile() string { return c.files().CACert() }

// ServerTokenFile, NodeTokenFile and ReadTokenFile are the bootstrap server's token
// files: server join, node join, read API.
func (c Credentials) ServerTokenFile() string { return c.files().ServerTokens() }
func (c Credentials) NodeTokenFile() string   { return c.files().NodeTokens() }
func (c Credentials) ReadTokenFile() string   { return c.files().ReadTokens() }

// CLIEnv is the environment a `keelson` read command needs for this cluster.
func (c Credentials) CLIEnv() []string {
	return []string{"KEELSON_CA_FILE=" + c.CAFile(), "KEELSON_TOKEN_FILE=" + c.ReadTokenFile()}
}

// Client is an API client for these server URLs with the read credential.
func (c Credentials) Client(urls ...string) (*client.Client, error) {
	tok, err := c.ReadToken()
	if err != nil {
		return nil, err
	}
	tc, err := client.TLSFiles{CAFile: c.CAFile()}.Config()
	if err != nil {
		return nil, err
	}
	return client.New(urls, tok, client.WithTLSConfig(tc)), nil
}

// HTTPClient trusts the cluster CA (for raw requests; add ReadToken as a bearer
// token where the route needs it).
func (c Credentials) HTTPClient() (*http.Client, error) {
	tc, err := client.TLSFiles{CAFile: c.CAFile()}.Config()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}, nil
}

// ReadToken is the read credential's secret (a bearer token).
func (c Credentials) ReadToken() (string, error) {
	t, err := pki.ReadTokenFile(c.ReadTokenFile())
	return t.Secret, err
}

// Wait waits until the bootstrap server proc has written its CA and tokens.
func (c Credentials) Wait(proc *Proc, timeout time.Duration) error {
	return WaitFiles(proc, timeout, c.CAFile(), c.ServerTokenFile(), c.NodeTokenFile(), c.ReadTokenFile())
}

// NodeClient is a client with a fresh node certificate for name, issued with the CA
// key in the server's data dir (as an operator with access to a server could): for
// tests and benchmarks that simulate nodes without running the node-join exchange.
func (c Credentials) NodeClient(name string, httpClient *http.Client, urls ...string) (*client.Client, error) {
	ca, err := pki.LoadCA(c.files().TLSDir())
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.IssueKeyPair(pki.RoleNode, name, nil)
	if err != nil {
		return nil, err
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	cfg := pki.ClientTLS(ca.Pool(), &kp, pki.RoleServer)
	if httpClient == nil {
		return client.New(urls, "", client.WithTLSConfig(cfg)), nil
	}
	tr := httpClient.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return client.New(urls, "", client.WithHTTPClient(&http.Client{Transport: tr})), nil
}
