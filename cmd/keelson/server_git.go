package main

import (
	"github.com/spf13/pflag"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/gitsource"
	"github.com/keelson/keelson/server"
)

// gitFlags are the flags of `keelson server` that say how to reach and trust the Git
// repository. Secrets are given as files, never on the command line.
type gitFlags struct {
	credentialsFile, caFile, sshKeyFile, knownHosts string
	allowedSigners                                  string
	allowRollback                                   bool
}

func (g *gitFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&g.credentialsFile, "git-credentials-file", "", "file whose first line is an https token or user:password for --repo (read at every fetch)")
	fl.StringVar(&g.caFile, "git-ca-file", "", "PEM file of extra CAs trusted for an https --repo")
	fl.StringVar(&g.sshKeyFile, "git-ssh-key-file", "", "unencrypted ssh private key for an ssh --repo")
	fl.StringVar(&g.allowedSigners, "allowed-signers", "", "git allowed-signers file of trusted SSH signing keys: refuse heads not signed by one of them (with --trusted-keyring: by either)")
	fl.BoolVar(&g.allowRollback, "allow-rollback", false, "with signed commits required, accept a head that does not descend from the last applied commit (a rollback or force-push)")
	fl.StringVar(&g.knownHosts, "git-known-hosts", "", "known_hosts file checking the ssh server's host key (default $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts)")
}

// apply copies the flags into a source configuration. srv is the server being built:
// the commit it last applied is what a new head must descend from.
func (g *gitFlags) apply(c *gitsource.Config, srv **server.Server) {
	c.CredentialsFile, c.CAFile = g.credentialsFile, g.caFile
	c.SSHKeyFile, c.KnownHostsFile = g.sshKeyFile, g.knownHosts
	c.AllowedSignersFile, c.AllowRollback = g.allowedSigners, g.allowRollback
	c.Applied = func() string {
		if *srv == nil {
			return ""
		}
		if rev := (*srv).Store().Snapshot().Revision(); rev != nil {
			return rev.Commit
		}
		return ""
	}
}

// redactedRepo is --repo as it may be shown in errors and logs.
func redactedRepo(repo string) string { return api.RedactURLs(repo) }
