package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	c := config{message: "hi", version: "v9"}
	srv := httptest.NewServer(newHandler(c, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	srv := newTestServer(t)
	if code, body := fetch(t, srv.URL+"/"); code != 200 || !strings.Contains(body, "hi\nversion: v9\n") || !strings.Contains(body, "pod IP: 127.0.0.1") {
		t.Errorf("/ = %d %q", code, body)
	}
	if code, body := fetch(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := fetch(t, srv.URL+"/nope"); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
	if code, body := fetch(t, srv.URL+"/call?url="+srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/call = %d %q", code, body)
	}
	if code, _ := fetch(t, srv.URL+"/call"); code != http.StatusBadGateway {
		t.Errorf("/call without url = %d, want 502", code)
	}
}

func TestCheck(t *testing.T) {
	srv := newTestServer(t)
	if got := check([]string{srv.URL + "/healthz"}, io.Discard); got != 0 {
		t.Errorf("check healthz = %d, want 0", got)
	}
	if got := check([]string{srv.URL + "/missing"}, io.Discard); got != 1 {
		t.Errorf("check missing = %d, want 1", got)
	}
	if got := check(nil, io.Discard); got != 2 {
		t.Errorf("check without URL = %d, want 2", got)
	}
}

func TestExitAfter(t *testing.T) {
	if got := run([]string{"-listen", "127.0.0.1:0", "-exit-after", "1ms", "-exit-code", "7"}); got != 7 {
		t.Errorf("run = %d, want 7", got)
	}
}
