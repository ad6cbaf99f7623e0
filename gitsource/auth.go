package gitsource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/keelson/keelson/api"
)

// credentials say how to authenticate to a remote. Secrets come from files only (never
// a command line or the URL shown in status), and the files are read at every fetch.
type credentials struct {
	protocol string // "https", "http", "ssh", "file", "git"
	user     string // ssh user from the URL, default "git"
	cfg      Config
	caBundle []byte
}

// newCredentials checks the configuration once, so that a mistake is an error at
// start rather than at the first fetch.
func newCredentials(cfg Config) (credentials, error) {
	ep, err := transport.NewEndpoint(cfg.URL)
	if err != nil {
		return credentials{}, fmt.Errorf("gitsource: url %s: %w", api.RedactURLs(cfg.URL), redactedError{err})
	}
	c := credentials{protocol: ep.Protocol, user: ep.User, cfg: cfg}
	if c.user == "" {
		c.user = "git"
	}
	switch {
	case cfg.CredentialsFile != "" && c.protocol == "http":
		return c, fmt.Errorf("gitsource: refusing to send credentials over plain http to %s: use https", api.RedactURLs(cfg.URL))
	case cfg.CredentialsFile != "" && c.protocol != "https":
		return c, fmt.Errorf("gitsource: a credentials file is for https remotes, not %s", api.RedactURLs(cfg.URL))
	case (cfg.SSHKeyFile != "" || cfg.KnownHostsFile != "") && c.protocol != "ssh":
		return c, fmt.Errorf("gitsource: an ssh key or known_hosts file is for ssh remotes, not %s", api.RedactURLs(cfg.URL))
	}
	if cfg.CAFile != "" {
		if c.caBundle, err = os.ReadFile(cfg.CAFile); err != nil {
			return c, fmt.Errorf("gitsource: CA file: %w", err)
		}
	}
	if _, err := c.auth(); err != nil {
		return c, err
	}
	return c, nil
}

// auth reads the credential files and returns the transport's auth method (nil: none).
func (c credentials) auth() (transport.AuthMethod, error) {
	switch c.protocol {
	case "https":
		if c.cfg.CredentialsFile == "" {
			return nil, nil
		}
		user, password, err := readCredentialsFile(c.cfg.CredentialsFile)
		if err != nil {
			return nil, err
		}
		return &githttp.BasicAuth{Username: user, Password: password}, nil
	case "ssh":
		var hostKeys gitssh.HostKeyCallbackHelper
		if c.cfg.KnownHostsFile != "" {
			cb, err := gitssh.NewKnownHostsCallback(c.cfg.KnownHostsFile)
			if err != nil {
				return nil, fmt.Errorf("gitsource: known hosts %s: %w", c.cfg.KnownHostsFile, err)
			}
			hostKeys.HostKeyCallback = cb
		}
		if c.cfg.SSHKeyFile != "" {
			keys, err := gitssh.NewPublicKeysFromFile(c.user, c.cfg.SSHKeyFile, "")
			if err != nil {
				return nil, fmt.Errorf("gitsource: ssh key %s: %w", c.cfg.SSHKeyFile, err)
			}
			keys.HostKeyCallbackHelper = hostKeys
			return keys, nil
		}
		if c.cfg.KnownHostsFile != "" {
			agent, err := gitssh.NewSSHAgentAuth(c.user)
			if err != nil {
				return nil, fmt.Errorf("gitsource: ssh agent: %w", err)
			}
			agent.HostKeyCallbackHelper = hostKeys
			return agent, nil
		}
	}
	return nil, nil
}

// readCredentialsFile reads "user:password" or a bare token from the first non-empty
// line of path. The secret is never part of an error.
func readCredentialsFile(path string) (user, password string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("gitsource: credentials file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if u, p, ok := strings.Cut(line, ":"); ok {
			if u == "" || p == "" {
				return "", "", fmt.Errorf("gitsource: credentials file %s: want user:password or a token on the first line", path)
			}
			return u, p, nil
		}
		return "x-access-token", line, nil
	}
	return "", "", errors.New("gitsource: credentials file " + path + " is empty")
}
