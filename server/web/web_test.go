package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
)

// fakeAPI is the read API as the page sees it: a bearer token check (a missing token
// is 401, a wrong one 403, like the server's) in front of fixed answers.
type fakeAPI struct {
	mu       sync.Mutex
	token    string // "" = open read API
	index    uint64
	requests atomic.Int64
}

func (f *fakeAPI) setToken(t string) { f.mu.Lock(); f.token = t; f.mu.Unlock() }

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	tok, idx := f.token, f.index
	f.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, "fake API: only GET", http.StatusMethodNotAllowed)
		return
	}
	if tok != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok:
			writeJSONError(w, http.StatusUnauthorized, "missing bearer token")
			return
		case got != tok:
			writeJSONError(w, http.StatusForbidden, "token not accepted")
			return
		}
	}
	w.Header().Set(api.IndexHeader, strconv.FormatUint(idx, 10))
	switch r.URL.Path {
	case api.PathStatus:
		_ = json.NewEncoder(w).Encode(api.StatusResponse{Index: idx, Cluster: api.ClusterStatus{Sync: api.Synced}})
	case api.PathPods:
		_, _ = io.WriteString(w, `[{"namespace":"default","name":"web-1","owner":"ReplicationController/default/web","spec":{"containers":[{"name":"web"}]},"status":{"phase":"Running","ready":true}}]`)
	case api.PathServices, api.PathRCs, api.PathEvents:
		_, _ = io.WriteString(w, `[]`)
	case api.PathLogs + "default/web-1":
		_, _ = io.WriteString(w, "container="+r.URL.Query().Get("container")+" follow="+r.URL.Query().Get("follow")+"\n")
	default:
		http.NotFound(w, r)
	}
}

// fakeIndex is the store's index: bump makes a change that wakes every waiter.
type fakeIndex struct {
	mu  sync.Mutex
	idx uint64
	ch  chan struct{}
	api *fakeAPI
}

func newFakeIndex(a *fakeAPI) *fakeIndex {
	a.index = 1
	return &fakeIndex{idx: 1, ch: make(chan struct{}), api: a}
}

func (f *fakeIndex) bump() {
	f.mu.Lock()
	f.idx++
	f.api.mu.Lock()
	f.api.index = f.idx
	f.api.mu.Unlock()
	close(f.ch)
	f.ch = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeIndex) WaitIndex(ctx context.Context, after uint64) (uint64, error) {
	for {
		f.mu.Lock()
		idx, ch := f.idx, f.ch
		f.mu.Unlock()
		if idx > after {
			return idx, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return idx, ctx.Err()
		}
	}
}

type fixture struct {
	api *fakeAPI
	idx *fakeIndex
	h   *Handler
}

func newFixture(t *testing.T, token string) *fixture {
	t.Helper()
	a := &fakeAPI{token: token}
	idx := newFakeIndex(a)
	h, err := New(Config{API: a, Index: idx,
		File: func(_ context.Context, commit, path string) ([]byte, error) {
			return []byte("file " + path + " at " + commit[:7] + "\n"), nil
		},
		Plan: func(_ context.Context, branch string) (any, error) {
			return map[string]any{"text": "plan of " + branch, "exitCode": 2}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{api: a, idx: idx, h: h}
}

// do sends one request to the page and returns the recorded answer.
func (f *fixture) do(method, target string, body io.Reader, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func (f *fixture) login(t *testing.T, token string) *httptest.ResponseRecorder {
	t.Helper()
	return f.do("POST", "/ui/login", strings.NewReader(url.Values{"token": {token}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

func (f *fixture) sessionCookie(t *testing.T) string {
	t.Helper()
	w := f.login(t, "s3cret")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login with the right token: %d %s", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatal("login set no session cookie")
	return ""
}

func TestNoSessionGoesToLoginPage(t *testing.T) {
	f := newFixture(t, "s3cret")
	w := f.do("GET", "/ui/", nil, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/login" {
		t.Fatalf("GET /ui/ without a session: %d Location=%q, want 303 to /ui/login", w.Code, w.Header().Get("Location"))
	}
	w = f.do("GET", "/ui/login", nil, nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<form method="post" action="/ui/login">`) ||
		!strings.Contains(w.Body.String(), `<label for="token">`) {
		t.Fatalf("login page: %d\n%s", w.Code, w.Body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("security headers: CSP %q, nosniff %q", csp, w.Header().Get("X-Content-Type-Options"))
	}
	// Data needs a credential too.
	for _, p := range []string{"/ui/api/summary", "/ui/api/stream", "/ui/api/plan?branch=main",
		"/ui/api/file?commit=" + strings.Repeat("a", 40) + "&path=x.yaml"} {
		if w := f.do("GET", p, nil, nil); w.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %d, want 401", p, w.Code)
		}
	}
}

func TestWrongTokenRefused(t *testing.T) {
	f := newFixture(t, "s3cret")
	w := f.login(t, "guess")
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not accepted") {
		t.Fatalf("login with a wrong token: %d\n%s", w.Code, w.Body)
	}
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("a refused login set cookies: %v", w.Result().Cookies())
	}
	if w := f.login(t, ""); w.Code != http.StatusBadRequest {
		t.Errorf("login without a token: %d, want 400", w.Code)
	}
	// A bearer header of the wrong token gets the read API's own refusal.
	if w := f.do("GET", "/ui/api/summary", nil, map[string]string{"Authorization": "Bearer guess"}); w.Code != http.StatusForbidden {
		t.Errorf("summary with a wrong bearer token: %d, want 403", w.Code)
	}
}

func TestSessionCookieOpensPage(t *testing.T) {
	f := newFixture(t, "s3cret")
	w := f.login(t, "s3cret")
	var c *http.Cookie
	for _, x := range w.Result().Cookies() {
		if x.Name == cookieName {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != Prefix || c.Secure || c.MaxAge <= 0 {
		t.Fatalf("session cookie over plain HTTP = %+v, want HttpOnly, SameSite=Strict, Path=/ui/, expiring, not Secure", c)
	}
	if strings.Contains(c.Value, "s3cret") {
		t.Fatalf("the cookie carries the token in clear: %q", c.Value)
	}
	cookie := map[string]string{"Cookie": c.Name + "=" + c.Value}
	if w := f.do("GET", "/ui/", nil, cookie); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `src="/ui/static/app.js"`) {
		t.Fatalf("GET /ui/ with the session: %d\n%s", w.Code, w.Body)
	}
	w = f.do("GET", "/ui/api/summary", nil, cookie)
	var s struct {
		Index uint64          `json:"index"`
		Pods  []api.PodRecord `json:"pods"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || w.Code != http.StatusOK || len(s.Pods) != 1 || s.Index != 1 {
		t.Fatalf("summary: %d %v %s", w.Code, err, w.Body)
	}
	if w := f.do("GET", "/ui/api/logs/default/web-1?container=web", nil, cookie); w.Body.String() != "container=web follow=true\n" {
		t.Errorf("log tail through the read API: %d %q", w.Code, w.Body)
	}
	if w := f.do("GET", "/ui/static/app.js", nil, nil); w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
		t.Errorf("app.js: %d %q", w.Code, w.Header().Get("Content-Type"))
	}

	// Over TLS the cookie is Secure.
	r := httptest.NewRequest("POST", "https://keelson.example/ui/login", strings.NewReader("token=s3cret"))
	r.TLS = &tls.ConnectionState{}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rw := httptest.NewRecorder()
	f.h.ServeHTTP(rw, r)
	if cs := rw.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("session cookie over TLS: %+v, want Secure", cs)
	}
}

func TestTamperedAndExpiredSessionsRefused(t *testing.T) {
	f := newFixture(t, "s3cret")
	good := f.sessionCookie(t)
	flip := []byte(good)
	flip[len(flip)-3] ^= 1
	if w := f.do("GET", "/ui/", nil, map[string]string{"Cookie": string(flip)}); w.Code != http.StatusSeeOther {
		t.Errorf("altered cookie: %d, want 303 to login", w.Code)
	}
	f.h.sessions.now = func() time.Time { return time.Now().Add(9 * time.Hour) }
	if w := f.do("GET", "/ui/", nil, map[string]string{"Cookie": good}); w.Code != http.StatusSeeOther {
		t.Errorf("expired cookie: %d, want 303 to login", w.Code)
	}
	// Another server process (another key) does not accept this one's cookie.
	other := newFixture(t, "s3cret")
	if w := other.do("GET", "/ui/", nil, map[string]string{"Cookie": good}); w.Code != http.StatusSeeOther {
		t.Errorf("cookie of another process: %d, want 303 to login", w.Code)
	}
	// A rotated token ends the session: the read API decides on every request.
	f.h.sessions.now = time.Now
	f.api.setToken("rotated")
	if w := f.do("GET", "/ui/api/summary", nil, map[string]string{"Cookie": good}); w.Code != http.StatusForbidden {
		t.Errorf("session of a rotated token: %d, want 403", w.Code)
	}
}

func TestWriteMethodsRefused(t *testing.T) {
	f := newFixture(t, "s3cret")
	cookie := map[string]string{"Cookie": f.sessionCookie(t)}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		for _, p := range []string{"/ui/", "/ui/api/summary", "/ui/api/stream", "/ui/api/plan", "/ui/api/logs/default/web-1", "/ui/api/sync"} {
			w := f.do(m, p, strings.NewReader("{}"), cookie)
			if w.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", m, p, w.Code)
			}
		}
	}
	before := f.api.requests.Load()
	if w := f.do("POST", "/ui/login", strings.NewReader("token=s3cret"), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}); w.Code != http.StatusForbidden {
		t.Errorf("login posted by another site: %d, want 403", w.Code)
	}
	if w := f.do("POST", "/ui/login", strings.NewReader("token=s3cret"), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"}); w.Code != http.StatusForbidden {
		t.Errorf("login posted cross-site (Sec-Fetch-Site): %d, want 403", w.Code)
	}
	if f.api.requests.Load() != before {
		t.Errorf("a cross-site login reached the read API")
	}
	if w := f.do("POST", "/ui/login", strings.NewReader("token=s3cret"), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}); w.Code != http.StatusSeeOther {
		t.Errorf("login posted by the page itself: %d, want 303", w.Code)
	}
}

func TestOpenReadAPINeedsNoLogin(t *testing.T) {
	f := newFixture(t, "")
	if w := f.do("GET", "/ui/", nil, nil); w.Code != http.StatusOK {
		t.Fatalf("GET /ui/ with an open read API: %d", w.Code)
	}
	if w := f.do("GET", "/ui/login", nil, nil); w.Code != http.StatusSeeOther {
		t.Errorf("login page with an open read API: %d, want a redirect to the page", w.Code)
	}
}

func TestFileAndPlanViews(t *testing.T) {
	f := newFixture(t, "s3cret")
	cookie := map[string]string{"Cookie": f.sessionCookie(t)}
	commit := strings.Repeat("ab", 20)
	w := f.do("GET", "/ui/api/file?commit="+commit+"&path=apps/web.yaml", nil, cookie)
	if w.Code != http.StatusOK || w.Body.String() != "file apps/web.yaml at abababa\n" {
		t.Errorf("file view: %d %q", w.Code, w.Body)
	}
	for _, bad := range []string{"commit=main&path=a.yaml", "commit=" + commit + "&path=../etc/passwd",
		"commit=" + commit + "&path=/etc/passwd", "commit=" + commit + "&path=a/./b"} {
		if w := f.do("GET", "/ui/api/file?"+bad, nil, cookie); w.Code != http.StatusBadRequest {
			t.Errorf("file view %s: %d, want 400", bad, w.Code)
		}
	}
	w = f.do("GET", "/ui/api/plan?branch=feature/x", nil, cookie)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"text":"plan of feature/x"`) {
		t.Errorf("plan view: %d %s", w.Code, w.Body)
	}
	if w := f.do("GET", "/ui/api/plan?branch=--upload-pack=x", nil, cookie); w.Code != http.StatusBadRequest {
		t.Errorf("plan of an option-like branch: %d, want 400", w.Code)
	}
	// While maxPlans plans run, another is refused rather than queued.
	for range maxPlans {
		f.h.plans <- struct{}{}
	}
	if w := f.do("GET", "/ui/api/plan?branch=main", nil, cookie); w.Code != http.StatusTooManyRequests {
		t.Errorf("plan while %d run: %d, want 429", maxPlans, w.Code)
	}
}

// readEvent reads one SSE event (skipping keep-alive comments).
func readEvent(t *testing.T, br *bufio.Reader) (name, data string) {
	t.Helper()
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

func TestStreamSendsOneSummaryPerChange(t *testing.T) {
	f := newFixture(t, "s3cret")
	cookie := f.sessionCookie(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ui/api/stream", nil)
	req.Header.Set("Cookie", cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(res.Body)
	for want := uint64(1); want <= 3; want++ {
		name, data := readEvent(t, br)
		var s Summary
		if err := json.Unmarshal([]byte(data), &s); name != "summary" || err != nil || s.Index != want {
			t.Fatalf("event %d: %s %v index %d", want, name, err, s.Index)
		}
		f.idx.bump()
	}
	// A token the read API stops accepting ends the stream with "denied".
	f.api.setToken("rotated")
	f.idx.bump()
	for {
		name, _ := readEvent(t, br)
		if name == "denied" {
			break
		}
		if name != "summary" {
			t.Fatalf("unexpected event %q", name)
		}
	}
}
