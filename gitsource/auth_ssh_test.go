package gitsource

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"

	"github.com/keelson/keelson/internal/testenv"
)

// sshKeygen makes an ed25519 key pair with the real ssh-keygen; it returns the private
// key's path and the public key.
func sshKeygen(t *testing.T, dir, name string) (string, ssh.PublicKey) {
	t.Helper()
	testenv.RequireBinary(t, "ssh-keygen")
	p := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pubText, err := os.ReadFile(p + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	return p, pub
}

// No ssh server runs here, so this checks the client side as a unit: the key file is
// loaded as the ssh user of the URL, and the host key callback accepts the host key in
// known_hosts and refuses any other (never "accept any host key").
func TestSSHKeyAndKnownHosts(t *testing.T) {
	dir := t.TempDir()
	key, clientPub := sshKeygen(t, dir, "deploy")
	_, hostPub := sshKeygen(t, dir, "host")
	_, otherPub := sshKeygen(t, dir, "impostor")
	knownHosts := filepath.Join(dir, "known_hosts")
	line := "[git.example]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub))) + "\n"
	if err := os.WriteFile(knownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := newCredentials(Config{URL: "ssh://deployer@git.example:2222/app.git", SSHKeyFile: key, KnownHostsFile: knownHosts})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := creds.auth()
	if err != nil {
		t.Fatal(err)
	}
	keys, ok := auth.(*gitssh.PublicKeys)
	if !ok {
		t.Fatalf("auth is %T, want *ssh.PublicKeys", auth)
	}
	if keys.User != "deployer" || !bytes.Equal(keys.Signer.PublicKey().Marshal(), clientPub.Marshal()) {
		t.Fatalf("ssh auth as %q with key %s, want deployer with the generated key", keys.User, ssh.FingerprintSHA256(keys.Signer.PublicKey()))
	}
	cfg, err := keys.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 2222}
	if err := cfg.HostKeyCallback("git.example:2222", addr, hostPub); err != nil {
		t.Fatalf("the known host key was refused: %v", err)
	}
	if err := cfg.HostKeyCallback("git.example:2222", addr, otherPub); err == nil {
		t.Fatal("another host key was accepted")
	}
	if err := cfg.HostKeyCallback("elsewhere.example:22", addr, hostPub); err == nil {
		t.Fatal("an unknown host was accepted")
	}

	// The scp-like form defaults to the URL's user; a bad key file is a clear error.
	if _, err := newCredentials(Config{URL: "git@git.example:app.git", SSHKeyFile: knownHosts, KnownHostsFile: knownHosts}); err == nil || !strings.Contains(err.Error(), "ssh key "+knownHosts) {
		t.Fatalf("a known_hosts file as the key: %v", err)
	}
	if _, err := newCredentials(Config{URL: "ssh://git@git.example/app.git", SSHKeyFile: key, KnownHostsFile: filepath.Join(dir, "none")}); err == nil || !strings.Contains(err.Error(), "known hosts") {
		t.Fatalf("a missing known_hosts file: %v", err)
	}
}
