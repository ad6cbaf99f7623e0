package pki

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// tokenPrefix marks a join token that pins the CA, as k3s' "K10<ca-hash>::<secret>":
// the joiner fetches the CA over unverified TLS, checks its hash against the token,
// and only then trusts the connection and sends the secret.
const tokenPrefix = "K10"

// Token is a join credential: the secret the server checks and, optionally, the hash
// of the cluster CA that the joiner must see before it sends the secret.
type Token struct {
	CAHash string // hex SHA-256 of the CA certificate; "" when the joiner has the CA file
	Secret string
}

// String is the token's wire and file form: K10<ca-hash>::<secret>, or the bare
// secret without a CA hash.
func (t Token) String() string {
	if t.CAHash == "" {
		return t.Secret
	}
	return tokenPrefix + t.CAHash + "::" + t.Secret
}

// NewToken makes a token with a fresh 32-byte random secret, pinned to caHash.
func NewToken(caHash string) Token {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on Linux
	return Token{CAHash: caHash, Secret: hex.EncodeToString(b)}
}

// ParseToken reads "K10<ca-hash>::<secret>" or a bare secret (surrounding space is
// ignored: token files end with a newline).
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Token{}, errors.New("empty token")
	}
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return Token{Secret: s}, nil
	}
	hash, secret, ok := strings.Cut(rest, "::")
	if !ok {
		return Token{Secret: s}, nil
	}
	if len(hash) != 64 {
		return Token{}, fmt.Errorf("token: CA hash has %d hex digits, want 64", len(hash))
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Token{}, fmt.Errorf("token: CA hash is not hex: %w", err)
	}
	if secret == "" {
		return Token{}, errors.New("token: empty secret after ::")
	}
	return Token{CAHash: strings.ToLower(hash), Secret: secret}, nil
}

// ReadTokenFile reads one token from a file (its first non-comment line).
func ReadTokenFile(path string) (Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Token{}, fmt.Errorf("read token file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			t, err := ParseToken(line)
			if err != nil {
				return Token{}, fmt.Errorf("%s: %w", path, err)
			}
			return t, nil
		}
	}
	return Token{}, fmt.Errorf("%s: no token in the file", path)
}

// TokenFile is a set of accepted secrets kept in a file, one token per line (full
// K10 form or bare secret; '#' starts a comment). It is re-read whenever the file
// changes, so an operator revokes a token by deleting its line and rotates by adding
// the new one before deleting the old: no restart.
type TokenFile struct {
	path string

	mu      sync.Mutex
	mtime   time.Time
	size    int64
	secrets []string
	err     error
}

// NewTokenFile watches path; a missing file accepts nothing.
func NewTokenFile(path string) *TokenFile { return &TokenFile{path: path} }

// Path is the file's path.
func (f *TokenFile) Path() string { return f.path }

// Accepts reports whether secret (a bare secret or a full token) is in the file.
func (f *TokenFile) Accepts(secret string) bool {
	if f == nil || secret == "" {
		return false
	}
	if t, err := ParseToken(secret); err == nil {
		secret = t.Secret
	}
	secrets, _ := f.load()
	ok := false
	for _, s := range secrets {
		if subtle.ConstantTimeCompare([]byte(s), []byte(secret)) == 1 {
			ok = true
		}
	}
	return ok
}

// Contents is the file as it is now (a joining server receives a copy).
func (f *TokenFile) Contents() ([]byte, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (f *TokenFile) load() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if err != nil {
		f.secrets, f.err, f.mtime, f.size = nil, err, time.Time{}, 0
		return nil, err
	}
	if st.ModTime().Equal(f.mtime) && st.Size() == f.size && f.err == nil {
		return f.secrets, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		f.secrets, f.err = nil, err
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if t, err := ParseToken(line); err == nil {
			out = append(out, t.Secret)
		}
	}
	f.secrets, f.err, f.mtime, f.size = out, nil, st.ModTime(), st.Size()
	return out, nil
}
