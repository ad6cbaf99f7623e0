package gitsource

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/keelson/keelson/api"
)

// trustPolicy says which commit signatures are trusted: OpenPGP keys of a keyring,
// SSH keys of an allowed-signers file, or both. With neither, commits need no
// signature; with either, every branch head must carry a trusted one (fail closed).
type trustPolicy struct {
	keyring string // armored OpenPGP keyring; "" when none
	signers []allowedSigner
}

// loadTrust reads and checks the trust files once, at start: a policy whose files
// cannot be read must stop the server rather than let commits through.
func loadTrust(cfg Config) (trustPolicy, error) {
	var p trustPolicy
	var err error
	if cfg.TrustedKeyring != "" {
		if p.keyring, err = loadKeyring(cfg.TrustedKeyring); err != nil {
			return p, err
		}
	}
	if cfg.AllowedSignersFile != "" {
		if p.signers, err = loadAllowedSigners(cfg.AllowedSignersFile); err != nil {
			return p, err
		}
	}
	return p, nil
}

// required reports whether heads must be signed.
func (p trustPolicy) required() bool { return p.keyring != "" || len(p.signers) > 0 }

func loadKeyring(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("trusted keyring: %w", err)
	}
	keys, err := openpgp.ReadArmoredKeyRing(strings.NewReader(string(data)))
	if err != nil {
		return "", fmt.Errorf("trusted keyring %s: %w", file, err)
	}
	if len(keys) == 0 {
		return "", fmt.Errorf("trusted keyring %s holds no keys", file)
	}
	return string(data), nil
}

// commitRefusal is a refusal reported at the commit (not at a file).
func commitRefusal(c *object.Commit, field, msg string) *api.FieldError {
	return &api.FieldError{Pos: api.Position{File: "commit " + c.Hash.String()[:12]}, Field: field, Message: msg}
}

// verify checks that the commit carries a valid signature by a trusted key, returning
// the refusal otherwise, with Field "signature".
func (p trustPolicy) verify(c *object.Commit) *api.FieldError {
	refuse := func(format string, args ...any) *api.FieldError {
		return commitRefusal(c, "signature", fmt.Sprintf(format, args...))
	}
	sig := strings.TrimSpace(c.PGPSignature)
	switch {
	case sig == "":
		return refuse("commit is not signed; the signature policy requires a signature by a trusted OpenPGP key or allowed SSH signer")
	case isSSHSignature(sig):
		if len(p.signers) == 0 {
			return refuse("commit has an SSH signature, but no allowed signers are configured (--allowed-signers)")
		}
		msg, err := unsignedEncoding(c)
		if err != nil {
			return refuse("cannot encode the commit to check its signature: %v", err)
		}
		key, err := verifySSHSignature(sig, msg)
		if err != nil {
			return refuse("%v", err)
		}
		if _, ok := trusts(p.signers, key, c.Committer.When); !ok {
			return refuse("signed by SSH key %s, which is not an allowed signer for git at the commit's time", ssh.FingerprintSHA256(key))
		}
		return nil
	case p.keyring == "":
		return refuse("commit has an OpenPGP signature, but no trusted keyring is configured (--trusted-keyring)")
	}
	if _, err := c.Verify(p.keyring); err != nil {
		return refuse("signature not verified by a trusted key: %v", err)
	}
	return nil
}

// unsignedEncoding is the commit as signed: its encoding without the gpgsig header.
func unsignedEncoding(c *object.Commit) ([]byte, error) {
	obj := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(obj); err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
