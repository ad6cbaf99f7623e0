package gitsource

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// newKey makes an OpenPGP key (EdDSA: fast to generate) for signing test commits.
func newKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", strings.ToLower(name)+"@example.com",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatalf("new key: %v", err)
	}
	return e
}

// writeKeyring writes the public half of keys as an armored keyring file.
func writeKeyring(t *testing.T, keys ...*openpgp.Entity) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := k.Serialize(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "trusted.asc")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// signedCommit commits a file in the work clone with go-git, signed by key.
func (r *repos) signedCommit(key *openpgp.Entity, msg, name, content string) string {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.work, name), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	repo, err := git.PlainOpen(r.work)
	if err != nil {
		r.t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := wt.Add(name); err != nil {
		r.t.Fatal(err)
	}
	who := &object.Signature{Name: "Sig Ner", Email: "signer@example.com", When: time.Now()}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: who, Committer: who, SignKey: key})
	if err != nil {
		r.t.Fatalf("signed commit: %v", err)
	}
	return h.String()
}

func TestSignaturePolicy(t *testing.T) {
	r := newRepos(t)
	trusted, stranger := newKey(t, "Trusted"), newKey(t, "Stranger")
	src := newLocal(t, Config{URL: r.bare, TrustedKeyring: writeKeyring(t, trusted)})

	unsigned := r.commit("unsigned", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	c := start(t, src)
	rev := c.waitFor(t, unsigned, 10*time.Second)
	if rev.Valid() || rev.Errors[0].Field != "signature" || !strings.Contains(rev.Errors[0].Message, "not signed") {
		t.Errorf("unsigned commit: errors %v, want a refusal for a missing signature", rev.Errors)
	}
	if len(rev.Objects.Pods) != 0 {
		t.Errorf("refused commit carries objects")
	}

	good := r.signedCommit(trusted, "signed", "b.yaml", pod("b"))
	r.push("main")
	if rev := c.waitFor(t, good, 10*time.Second); !rev.Valid() {
		t.Errorf("commit signed by a trusted key refused: %v", rev.Errors)
	}

	untrusted := r.signedCommit(stranger, "stranger", "c.yaml", pod("c"))
	r.push("main")
	rev = c.waitFor(t, untrusted, 10*time.Second)
	if rev.Valid() || rev.Errors[0].Field != "signature" || !strings.Contains(rev.Errors[0].Error(), "commit "+untrusted[:12]) {
		t.Errorf("commit by an untrusted key: errors %v, want a signature refusal", rev.Errors)
	}
}

func TestKeyringMustHoldKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "empty.asc")
	if err := os.WriteFile(file, []byte("not a keyring"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{URL: t.TempDir(), TrustedKeyring: file}); err == nil {
		t.Errorf("New accepted an unreadable keyring")
	}
}
