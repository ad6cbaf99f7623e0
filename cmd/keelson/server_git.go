package main

import (
	"github.com/spf13/pflag"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/gitsource"
)

// gitFlags are the flags of `keelson server` that say how to reach and trust the Git
// repository. Secrets are given as files, never on the command line.
type gitFlags struct {
	credentialsFile, caFile, sshKeyFile, knownHosts string
}

func (g *gitFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&g.credentialsFile, "git-credentials-file", "", "file whose first line is an https token or user:password for --repo (read at every fetch)")
	fl.StringVar(&g.caFile, "git-ca-file", "", "PEM file of extra CAs trusted for an https --repo")
	fl.StringVar(&g.sshKeyFile, "git-ssh-key-file", "", "unencrypted ssh private key for an ssh --repo")
	fl.StringVar(&g.knownHosts, "git-known-hosts", "", "known_hosts file checking the ssh server's host key (default $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts)")
}

// apply copies the flags into a source configuration.
func (g *gitFlags) apply(c *gitsource.Config) {
	c.CredentialsFile, c.CAFile = g.credentialsFile, g.caFile
	c.SSHKeyFile, c.KnownHostsFile = g.sshKeyFile, g.knownHosts
}

// redactedRepo is --repo as it may be shown in errors and logs.
func redactedRepo(repo string) string { return api.RedactURLs(repo) }
