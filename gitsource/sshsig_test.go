package gitsource

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshSignedCommit commits files with the real git, signed with an SSH key
// (gpg.format=ssh, which runs ssh-keygen -Y sign).
func (r *repos) sshSignedCommit(key, msg string, files map[string]string) string {
	r.t.Helper()
	for p, content := range files {
		if err := os.WriteFile(filepath.Join(r.work, p), []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		r.git(r.work, "add", "--", p)
	}
	r.git(r.work, "-c", "gpg.format=ssh", "-c", "user.signingkey="+key, "commit", "-q", "-S", "--allow-empty", "-m", msg)
	return r.git(r.work, "rev-parse", "HEAD")
}

// writeAllowedSigners writes an allowed-signers file trusting pub for git.
func writeAllowedSigners(t *testing.T, principal string, pub ssh.PublicKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "allowed_signers")
	line := "# trusted deployers\n" + principal + ` namespaces="git" ` + string(ssh.MarshalAuthorizedKey(pub))
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Real git signs with real ssh-keygen; Keelson verifies what git itself verifies with
// the same allowed-signers file, and refuses an unknown key and an unsigned commit.
func TestSSHSignedCommits(t *testing.T) {
	r := newRepos(t)
	dir := t.TempDir()
	alice, alicePub := sshKeygen(t, dir, "alice")
	mallory, _ := sshKeygen(t, dir, "mallory")
	signers := writeAllowedSigners(t, "alice@example.com", alicePub)
	c := start(t, newLocal(t, Config{URL: r.bare, AllowedSignersFile: signers}))

	good := r.sshSignedCommit(alice, "signed by alice", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	if rev := c.waitFor(t, good, 10*time.Second); !rev.Valid() || len(rev.Objects.Pods) != 1 {
		t.Fatalf("commit signed by an allowed signer: errors %v", rev.Errors)
	}
	// git agrees that the signature and the file are good.
	r.git(r.work, "-c", "gpg.ssh.allowedSignersFile="+signers, "verify-commit", good)

	stranger := r.sshSignedCommit(mallory, "signed by mallory", map[string]string{"b.yaml": pod("b")})
	r.push("main")
	rev := c.waitFor(t, stranger, 10*time.Second)
	if rev.Valid() || len(rev.Objects.Pods) != 0 || !strings.Contains(rev.Errors[0].Error(), "commit "+stranger[:12]+": signature: signed by SSH key SHA256:") ||
		!strings.Contains(rev.Errors[0].Message, "which is not an allowed signer") {
		t.Fatalf("commit by an unknown SSH key: errors %v", rev.Errors)
	}

	unsigned := r.commit("unsigned", map[string]string{"c.yaml": pod("c")})
	r.push("main")
	if rev := c.waitFor(t, unsigned, 10*time.Second); rev.Valid() || !strings.Contains(rev.Errors[0].Message, "not signed") {
		t.Fatalf("unsigned commit: errors %v", rev.Errors)
	}
}

func TestSSHSignatureTamperedOrWrongNamespace(t *testing.T) {
	dir := t.TempDir()
	key, pub := sshKeygen(t, dir, "k")
	msg := filepath.Join(dir, "msg")
	if err := os.WriteFile(msg, []byte("tree abc\n\nhello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sign := func(ns string) string {
		if out, err := exec.Command("ssh-keygen", "-q", "-Y", "sign", "-n", ns, "-f", key, msg).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -Y sign: %v: %s", err, out)
		}
		sig, err := os.ReadFile(msg + ".sig")
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(msg + ".sig")
		return string(sig)
	}
	gitSig := sign("git")
	got, err := verifySSHSignature(gitSig, []byte("tree abc\n\nhello\n"))
	if err != nil || ssh.FingerprintSHA256(got) != ssh.FingerprintSHA256(pub) {
		t.Fatalf("a good signature: key %v, %v", got, err)
	}
	if _, err := verifySSHSignature(gitSig, []byte("tree abc\n\nhellO\n")); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("a tampered message: %v", err)
	}
	if _, err := verifySSHSignature(sign("file"), []byte("tree abc\n\nhello\n")); err == nil || !strings.Contains(err.Error(), `namespace "file"`) {
		t.Fatalf("a signature for another namespace: %v", err)
	}
	if _, err := verifySSHSignature(strings.Replace(gitSig, "U1NIU0lH", "U1NIU0lI", 1), nil); err == nil {
		t.Fatal("a signature with a bad magic verified")
	}
}

func TestAllowedSignersFile(t *testing.T) {
	_, pub := sshKeygen(t, t.TempDir(), "k")
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	write := func(content string) string {
		p := filepath.Join(t.TempDir(), "allowed")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	when := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, content string
		trusted       bool
	}{
		{"plain", "a@example.com " + key + " comment\n", true},
		{"git namespace", `a@example.com namespaces="file,git" ` + key, true},
		{"other namespace", `a@example.com namespaces="file" ` + key, false},
		{"valid window", `a@example.com valid-after="20260101",valid-before="20270101Z" ` + key, true},
		{"expired", `a@example.com valid-before="20260101Z" ` + key, false},
		{"not yet", `a@example.com valid-after="202606020000Z" ` + key, false},
	} {
		signers, err := loadAllowedSigners(write(tc.content))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, ok := trusts(signers, pub, when); ok != tc.trusted {
			t.Errorf("%s: trusted = %v, want %v", tc.name, ok, tc.trusted)
		}
	}
	for _, tc := range []struct{ content, want string }{
		{"# nothing\n", "holds no keys"},
		{"\na@example.com ssh-ed25519 !!!\n", ":2: want \"principals [options] key-type key\""},
		{"a@example.com cert-authority " + key, ":1: cert-authority: cert-authority is not supported"},
		{`a@example.com valid-after="2026" ` + key, `:1: valid-after: invalid time "2026"`},
	} {
		if _, err := loadAllowedSigners(write(tc.content)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.content, err, tc.want)
		}
	}
}

// FuzzVerifySSHSignature: hostile signature blobs never panic and never verify.
func FuzzVerifySSHSignature(f *testing.F) {
	f.Add([]byte("SSHSIG\x00\x00\x00\x01"))
	f.Add([]byte{})
	f.Add([]byte("SSHSIG\x00\x00\x00\x01\x00\x00\x00\x33\x00\x00\x00\x0bssh-ed25519"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		armored := sshsigArmorStart + "\n" + base64.StdEncoding.EncodeToString(raw) + "\n" + sshsigArmorEnd
		if key, err := verifySSHSignature(armored, []byte("message")); err == nil {
			t.Fatalf("a fuzzed signature verified with key %v", key)
		}
	})
}
