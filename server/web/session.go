package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// cookieName is the session cookie; its path is Prefix, so it is sent to nothing else.
const cookieName = "keelson_session"

// maxToken bounds the token a login may carry, so a session fits in one cookie.
const maxToken = 2048

// sessions seals the read token into the session cookie with AES-GCM under a key only
// this server process holds. The cookie is opaque to the browser and to anyone who
// steals it from disk after the server restarted; while valid, each request of the
// page goes to the read API with the token recovered from it, so the server's own
// authentication decides every time (a rotated token ends every session at once).
// Sealing instead of an HMAC of the token is what makes that possible: an HMAC could
// only be checked against a list of accepted tokens, which the page would then need
// to copy from the server's authentication code.
type sessions struct {
	aead cipher.AEAD
	ttl  time.Duration
	now  func() time.Time
}

func newSessions(key []byte, ttl time.Duration) (*sessions, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("web: session cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("web: session cipher: %w", err)
	}
	return &sessions{aead: aead, ttl: ttl, now: time.Now}, nil
}

// additional data binds a sealed value to its use.
var sessionAD = []byte("keelson web session v1")

// seal returns the cookie value for token, valid until now+ttl.
func (s *sessions) seal(token string) (string, time.Time, error) {
	exp := s.now().Add(s.ttl)
	plain := binary.BigEndian.AppendUint64(nil, uint64(exp.Unix()))
	plain = append(plain, token...)
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", time.Time{}, fmt.Errorf("web: session nonce: %w", err)
	}
	sealed := s.aead.Seal(nonce, nonce, plain, sessionAD)
	return base64.RawURLEncoding.EncodeToString(sealed), exp, nil
}

var errSession = errors.New("no valid session")

// open returns the token of a cookie value and when the session ends; a value that
// was not sealed by this process, was altered or has expired is errSession.
func (s *sessions) open(v string) (string, time.Time, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", time.Time{}, errSession
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], sessionAD)
	if err != nil || len(plain) < 8 {
		return "", time.Time{}, errSession
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(plain)), 0)
	if !s.now().Before(exp) {
		return "", time.Time{}, errSession
	}
	return string(plain[8:]), exp, nil
}

// cookie builds the session cookie: HttpOnly (no script reads it), Secure when the
// page is served over TLS, SameSite=Strict (no other site's page can make the browser
// send it), scoped to the page's path.
func sessionCookie(r *http.Request, value string, exp time.Time) *http.Cookie {
	c := &http.Cookie{
		Name: cookieName, Value: value, Path: Prefix, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = exp
		c.MaxAge = int(time.Until(exp).Seconds())
	}
	return c
}

// session returns the token of the request's session cookie, if it has a valid one.
func (h *Handler) session(r *http.Request) (token string, exp time.Time, ok bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", time.Time{}, false
	}
	tok, exp, err := h.sessions.open(c.Value)
	if err != nil {
		return "", time.Time{}, false
	}
	return tok, exp, true
}
