package gitsource

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestWebhook(t *testing.T) {
	const secret, body = "s3cret", `{"ref":"refs/heads/main"}`
	cases := []struct {
		name    string
		method  string
		headers map[string]string
		secret  string
		want    int
	}{
		{"github valid", "POST", map[string]string{"X-Hub-Signature-256": "sha256=" + sign(secret, body)}, secret, 202},
		{"gitea valid", "POST", map[string]string{"X-Gitea-Signature": sign(secret, body)}, secret, 202},
		{"gitlab valid", "POST", map[string]string{"X-Gitlab-Token": secret}, secret, 202},
		{"github wrong secret", "POST", map[string]string{"X-Hub-Signature-256": "sha256=" + sign("other", body)}, secret, 401},
		{"github no prefix", "POST", map[string]string{"X-Hub-Signature-256": sign(secret, body)}, secret, 401},
		{"gitea not hex", "POST", map[string]string{"X-Gitea-Signature": "zz"}, secret, 401},
		{"gitlab wrong token", "POST", map[string]string{"X-Gitlab-Token": "s3cre"}, secret, 401},
		{"missing signature", "POST", nil, secret, 401},
		{"empty secret fails closed", "POST", map[string]string{"X-Hub-Signature-256": "sha256=" + sign("", body)}, "", 401},
		{"GET", "GET", map[string]string{"X-Gitlab-Token": secret}, secret, 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var triggered atomic.Int32
			h := WebhookHandler([]byte(tc.secret), func() { triggered.Add(1) }, nil)
			req := httptest.NewRequest(tc.method, "/v1/hooks/git", strings.NewReader(body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
			wantTrig := int32(0)
			if tc.want == http.StatusAccepted {
				wantTrig = 1
			}
			if got := triggered.Load(); got != wantTrig {
				t.Errorf("triggered %d times, want %d", got, wantTrig)
			}
		})
	}
}

// The body is signed as a whole, so a tampered body fails even with a header that was
// valid for the original.
func TestWebhookTamperedBodyAndSizeLimit(t *testing.T) {
	const secret = "s3cret"
	var triggered atomic.Int32
	h := WebhookHandler([]byte(secret), func() { triggered.Add(1) }, nil)
	req := httptest.NewRequest("POST", "/v1/hooks/git", strings.NewReader(`{"ref":"refs/heads/evil"}`))
	req.Header.Set("X-Hub-Signature-256", "sha256="+sign(secret, `{"ref":"refs/heads/main"}`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("tampered body: status %d", rec.Code)
	}
	big := strings.Repeat("x", MaxWebhookBody+1)
	req = httptest.NewRequest("POST", "/v1/hooks/git", strings.NewReader(big))
	req.Header.Set("X-Hub-Signature-256", "sha256="+sign(secret, big))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d", rec.Code)
	}
	if triggered.Load() != 0 {
		t.Errorf("triggered %d times", triggered.Load())
	}
}

// End to end: the handler's trigger is Source.Trigger; a valid hook makes a remote
// source fetch at once, a forged one does not.
func TestWebhookTriggersFetch(t *testing.T) {
	r := newRepos(t)
	first := r.commit("first", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	src := newFileRemote(t, r, hour)
	c := start(t, src)
	c.waitFor(t, first, 10*time.Second)
	srv := httptest.NewServer(WebhookHandler([]byte("k"), src.Trigger, nil))
	defer srv.Close()

	second := r.commit("second", map[string]string{"b.yaml": pod("b")})
	r.push("main")
	post := func(sig string) int {
		req, err := http.NewRequest("POST", srv.URL, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Gitea-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(sign("wrong", "{}")); code != http.StatusUnauthorized {
		t.Fatalf("forged hook: %d", code)
	}
	if code := post(sign("k", "{}")); code != http.StatusAccepted {
		t.Fatalf("valid hook: %d", code)
	}
	c.waitFor(t, second, 10*time.Second)
}
