package main

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	srv := newTestServer(t)
	if code, body := fetch(t, srv.URL+"/resolve?name=localhost&type=host"); code != 200 || !strings.Contains(body, "127.0.0.1") {
		t.Errorf("localhost = %d %q", code, body)
	}
	if code, _ := fetch(t, srv.URL+"/resolve?name=no-such-name.invalid."); code != 404 && code != 502 {
		t.Errorf("unknown name = %d, want 404 (or 502 with no resolver)", code)
	}
	if code, _ := fetch(t, srv.URL+"/resolve?name=x&type=MX"); code != 400 {
		t.Errorf("type MX = %d, want 400", code)
	}
}
