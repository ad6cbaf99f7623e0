package gitsource

import (
	"fmt"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/keelson/keelson/api"
)

// loadKeyring reads and checks the trusted keyring once, at start: a policy whose
// keyring cannot be read must stop the server rather than let commits through.
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

// verifySignature checks that the commit carries a valid OpenPGP signature by a key of
// the keyring, returning the refusal otherwise. The error is reported at the commit
// (not at a file) with Field "signature".
func verifySignature(c *object.Commit, keyring string) *api.FieldError {
	refuse := func(msg string) *api.FieldError {
		return &api.FieldError{
			Pos:     api.Position{File: "commit " + c.Hash.String()[:12]},
			Field:   "signature",
			Message: msg,
		}
	}
	if strings.TrimSpace(c.PGPSignature) == "" {
		return refuse("commit is not signed; the signature policy requires a signature by a trusted OpenPGP key")
	}
	if _, err := c.Verify(keyring); err != nil {
		return refuse(fmt.Sprintf("signature not verified by a trusted key: %v", err))
	}
	return nil
}
