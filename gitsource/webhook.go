package gitsource

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// MaxWebhookBody bounds what is read of a webhook request before its signature is
// checked: anyone who can reach the server can send one, so it must cost little.
// The body is only a trigger (the commit is always fetched); a bigger push payload
// (hundreds of commits) is refused with 413 and the change is found by the next poll.
const MaxWebhookBody = 1 << 20

// WebhookHandler returns the handler of POST /v1/hooks/git. It authenticates the
// request and calls trigger; the payload is never trusted for anything else (the
// commit is always fetched and checked), so any push-like event is just a hint.
//
// Accepted authentication, compared in constant time:
//   - GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
//   - Gitea/Forgejo/Gogs: X-Gitea-Signature (or X-Gogs-Signature): <hex HMAC-SHA256>
//   - GitLab: X-Gitlab-Token: <secret>
//
// A missing or wrong signature, or an empty secret (fail closed), is 401 and no
// trigger; a valid one is 202.
func WebhookHandler(secret []byte, trigger func(), logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength > MaxWebhookBody {
			// Refused before reading anything.
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		if len(secret) == 0 || !authentic(r.Header, body, secret) {
			logger.Warn("webhook refused: missing or wrong signature", "remote", r.RemoteAddr)
			http.Error(w, "missing or invalid signature", http.StatusUnauthorized)
			return
		}
		trigger()
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "triggered\n")
	})
}

// authentic checks whichever provider's header is present.
func authentic(h http.Header, body, secret []byte) bool {
	if sig := h.Get("X-Hub-Signature-256"); sig != "" {
		hexSig, ok := strings.CutPrefix(sig, "sha256=")
		return ok && macEqual(hexSig, body, secret)
	}
	if sig := h.Get("X-Gitea-Signature"); sig != "" {
		return macEqual(sig, body, secret)
	}
	if sig := h.Get("X-Gogs-Signature"); sig != "" {
		return macEqual(sig, body, secret)
	}
	if tok := h.Get("X-Gitlab-Token"); tok != "" {
		return subtle.ConstantTimeCompare([]byte(tok), secret) == 1
	}
	return false
}

func macEqual(hexSig string, body, secret []byte) bool {
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
