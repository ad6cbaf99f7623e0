package gitsource

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSH commit signatures (`git -c gpg.format=ssh commit -S`): the commit's gpgsig
// header holds an armored SSHSIG blob (OpenSSH PROTOCOL.sshsig) over the commit without
// that header, in the "git" namespace. Trust comes from an allowed-signers file in the
// format git's gpg.ssh.allowedSignersFile and `ssh-keygen -Y verify` read.

const (
	sshsigArmorStart = "-----BEGIN SSH SIGNATURE-----"
	sshsigArmorEnd   = "-----END SSH SIGNATURE-----"
	sshsigNamespace  = "git"
)

var sshsigMagic = [6]byte{'S', 'S', 'H', 'S', 'I', 'G'}

// sshsigBlob is the wire form of an SSH signature.
type sshsigBlob struct {
	Magic         [6]byte
	Version       uint32
	PublicKey     []byte
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Signature     []byte
}

// sshsigSigned is what the signature covers.
type sshsigSigned struct {
	Magic         [6]byte
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Hash          []byte
}

// isSSHSignature reports whether a gpgsig header holds an SSH signature.
func isSSHSignature(sig string) bool {
	return strings.HasPrefix(strings.TrimSpace(sig), sshsigArmorStart)
}

// verifySSHSignature checks an armored SSH signature over message and returns the
// signing key; the caller decides whether that key is trusted.
func verifySSHSignature(armored string, message []byte) (ssh.PublicKey, error) {
	body, ok := strings.CutPrefix(strings.TrimSpace(armored), sshsigArmorStart)
	if !ok {
		return nil, errors.New("not an SSH signature")
	}
	body, ok = strings.CutSuffix(body, sshsigArmorEnd)
	if !ok {
		return nil, errors.New("SSH signature armor not terminated")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil, fmt.Errorf("SSH signature armor: %w", err)
	}
	var blob sshsigBlob
	if err := ssh.Unmarshal(raw, &blob); err != nil {
		return nil, fmt.Errorf("SSH signature: %w", err)
	}
	switch {
	case blob.Magic != sshsigMagic:
		return nil, errors.New("SSH signature: bad magic")
	case blob.Version != 1:
		return nil, fmt.Errorf("SSH signature: unsupported version %d", blob.Version)
	case blob.Namespace != sshsigNamespace:
		return nil, fmt.Errorf("SSH signature: namespace %q, want %q", blob.Namespace, sshsigNamespace)
	}
	var digest []byte
	switch blob.HashAlgorithm {
	case "sha256":
		h := sha256.Sum256(message)
		digest = h[:]
	case "sha512":
		h := sha512.Sum512(message)
		digest = h[:]
	default:
		return nil, fmt.Errorf("SSH signature: unsupported hash %q", blob.HashAlgorithm)
	}
	key, err := ssh.ParsePublicKey(blob.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("SSH signature: public key: %w", err)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(blob.Signature, &sig); err != nil {
		return nil, fmt.Errorf("SSH signature: %w", err)
	}
	if sig.Format == ssh.KeyAlgoRSA {
		return nil, errors.New("SSH signature: ssh-rsa (SHA-1) signatures are not accepted")
	}
	signed := ssh.Marshal(sshsigSigned{Magic: sshsigMagic, Namespace: blob.Namespace, Reserved: blob.Reserved, HashAlgorithm: blob.HashAlgorithm, Hash: digest})
	if err := key.Verify(signed, &sig); err != nil {
		return nil, fmt.Errorf("SSH signature does not verify: %w", err)
	}
	return key, nil
}

// allowedSigner is one line of an allowed-signers file.
type allowedSigner struct {
	principals  string
	key         ssh.PublicKey
	namespaces  []string  // empty: any
	validAfter  time.Time // zero: no bound
	validBefore time.Time
}

// loadAllowedSigners reads an allowed-signers file ("principals [options] key"), with
// file:line errors. Certificate authorities are not supported: a cert-authority line is
// an error rather than a key silently not trusted.
func loadAllowedSigners(file string) ([]allowedSigner, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("allowed signers: %w", err)
	}
	var out []allowedSigner
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		principals, rest, _ := strings.Cut(line, " ")
		key, _, options, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(rest)))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: want \"principals [options] key-type key\": %v", file, n, err)
		}
		s := allowedSigner{principals: principals, key: key}
		for _, o := range options {
			name, value, _ := strings.Cut(o, "=")
			value = strings.Trim(value, `"`)
			switch strings.ToLower(name) {
			case "namespaces":
				s.namespaces = strings.Split(value, ",")
			case "valid-after":
				s.validAfter, err = parseSignerTime(value)
			case "valid-before":
				s.validBefore, err = parseSignerTime(value)
			case "cert-authority":
				err = errors.New("cert-authority is not supported: list the signing keys themselves")
			default:
				err = fmt.Errorf("unknown option %q", name)
			}
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %v", file, n, name, err)
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("allowed signers %s holds no keys", file)
	}
	return out, nil
}

// parseSignerTime reads ssh-keygen's YYYYMMDD[HHMM[SS]] (UTC with a trailing Z, local
// time otherwise, as ssh-keygen does).
func parseSignerTime(v string) (time.Time, error) {
	loc := time.Local
	if s, ok := strings.CutSuffix(v, "Z"); ok {
		v, loc = s, time.UTC
	}
	for _, layout := range []string{"20060102150405", "200601021504", "20060102"} {
		if len(v) == len(layout) {
			return time.ParseInLocation(layout, v, loc)
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want YYYYMMDD[HHMM[SS]][Z]", v)
}

// trusts finds the allowed signer of key valid for a commit made at t in the git
// namespace.
func trusts(signers []allowedSigner, key ssh.PublicKey, t time.Time) (allowedSigner, bool) {
	for _, s := range signers {
		if !bytes.Equal(s.key.Marshal(), key.Marshal()) {
			continue
		}
		if len(s.namespaces) > 0 && !containsNamespace(s.namespaces, sshsigNamespace) {
			continue
		}
		if !s.validAfter.IsZero() && t.Before(s.validAfter) || !s.validBefore.IsZero() && !t.Before(s.validBefore) {
			continue
		}
		return s, true
	}
	return allowedSigner{}, false
}

func containsNamespace(list []string, ns string) bool {
	for _, n := range list {
		if strings.TrimSpace(n) == ns {
			return true
		}
	}
	return false
}
