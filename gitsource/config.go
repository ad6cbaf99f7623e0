package gitsource

import (
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
)

// Defaults for the fields of Config left zero.
const (
	DefaultBranch = "main"
	// DefaultRemotePoll is how often a remote is fetched when no webhook arrives.
	DefaultRemotePoll = 15 * time.Second
	// DefaultLocalPoll is the safety-net poll of a local repository: fsnotify does the
	// real work, the poll only catches events it missed (e.g. a repository on NFS).
	DefaultLocalPoll = 10 * time.Second
)

// Config says where the desired state lives and how to reach it.
type Config struct {
	// URL is a local path (bare or non-bare repository, opened in place) or a remote
	// URL (file://, https://, http://, ssh://, git://, or scp-like user@host:path),
	// which is cloned into WorkDir.
	URL string
	// Branch is the desired-state branch; default "main".
	Branch string
	// Path is the manifests directory inside the repository; default the root.
	Path string
	// PollInterval is the fetch interval of a remote (default 15s, plus up to 20%
	// jitter so that many servers do not fetch in lock step) or the safety-net poll of
	// a local repository (default 10s).
	PollInterval time.Duration
	// WorkDir holds the bare clones of remote repositories; required for remotes.
	WorkDir string
	// CredentialsFile holds the credentials of an https remote on its first line:
	// "user:password", or a token alone (sent as basic auth "x-access-token":token,
	// which GitHub, Gitea and GitLab accept). Never sent over plain http.
	CredentialsFile string
	// CAFile is a PEM bundle of extra CAs trusted for an https remote (a Git server
	// with a private CA); the system roots are trusted as well.
	CAFile string
	// SSHKeyFile is a private key (unencrypted PEM/OpenSSH) for ssh remotes.
	SSHKeyFile string
	// KnownHostsFile verifies the ssh server's host key. Host keys are never ignored:
	// when empty, the usual known_hosts files ($SSH_KNOWN_HOSTS, ~/.ssh/known_hosts)
	// are used.
	KnownHostsFile string
	// TrustedKeyring is the path of an armored OpenPGP public keyring. When set, the
	// branch head must carry a valid signature by one of its keys, or the revision is
	// refused (fail closed).
	TrustedKeyring string
	// AllowedSignersFile lists the trusted SSH signing keys, in the format of git's
	// gpg.ssh.allowedSignersFile ("principals [options] key"). When set (or
	// TrustedKeyring is), heads must carry a trusted signature.
	AllowedSignersFile string
	// AllowRollback lets a signed branch move to a head that does not descend from the
	// last applied commit. Without it, when signatures are required, such a head (a
	// force-push back to an old signed commit) is refused.
	AllowRollback bool
	// Applied returns the commit the cluster last applied ("" for none); nil means the
	// last valid revision this Source delivered.
	Applied func() string
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
}

// scpLike matches "user@host:path", the ssh shorthand git accepts.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:`)

// isRemote reports whether the URL names a repository that must be cloned rather than
// opened in place.
func isRemote(u string) bool {
	for _, scheme := range []string{"file://", "https://", "http://", "ssh://", "git://"} {
		if strings.HasPrefix(u, scheme) {
			return true
		}
	}
	return scpLike.MatchString(u)
}

// withDefaults returns a copy of c with defaults filled in and Path normalized, or an
// error for a configuration that cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, fmt.Errorf("gitsource: URL is required")
	}
	if c.Branch == "" {
		c.Branch = DefaultBranch
	}
	if strings.HasPrefix(c.Branch, "refs/") || strings.Contains(c.Branch, "..") {
		return c, fmt.Errorf("gitsource: branch %q: give a plain branch name", c.Branch)
	}
	if p := path.Clean(strings.TrimSpace(c.Path)); p == ".." || strings.HasPrefix(p, "../") {
		return c, fmt.Errorf("gitsource: path %q leaves the repository", c.Path)
	}
	c.Path = cleanPath(c.Path)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	remote := isRemote(c.URL)
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultLocalPoll
		if remote {
			c.PollInterval = DefaultRemotePoll
		}
	}
	if !remote {
		// Absolute, so that fsnotify event paths and the watched ref paths compare.
		abs, err := filepath.Abs(c.URL)
		if err != nil {
			return c, fmt.Errorf("gitsource: repository path %s: %w", c.URL, err)
		}
		c.URL = abs
	}
	if remote && c.WorkDir == "" {
		return c, fmt.Errorf("gitsource: WorkDir is required to clone remote %s", api.RedactURLs(c.URL))
	}
	return c, nil
}

// cleanPath turns "", ".", "/", "./apps/" into "" or "apps".
func cleanPath(p string) string {
	p = strings.Trim(path.Clean("/"+strings.TrimSpace(p)), "/")
	if p == "." {
		return ""
	}
	return p
}
