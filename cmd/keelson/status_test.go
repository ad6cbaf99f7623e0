package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/keelson/keelson/api"
)

func TestStatusGolden(t *testing.T) {
	_, url := newFakeAPI(t)
	out, errOut, code := run(t, context.Background(), statusCmd(testEnv()), "--server", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "status.golden", out)
	// Every refused error is shown with its file:line.
	for _, want := range []string{"debug.yaml:8:5: Pod/debug: spec.containers[0].tty", "debug.yaml:3:9: Pod/debug: metadata.name"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}

	out, errOut, code = run(t, context.Background(), statusCmd(testEnv()), "--server", url, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "status_json.golden", out)
	var st api.StatusResponse
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Refused == nil || len(st.Refused.Errors) != 2 {
		t.Fatalf("status json: %v %+v", err, st)
	}
}

func TestStatusEmptyCluster(t *testing.T) {
	f, url := newFakeAPI(t)
	f.set(func(s *fixture) {
		s.status = api.StatusResponse{Source: api.SourceStatus{URL: "/srv/x.git", Branch: "main", Message: "branch main not found"}}
	})
	out, errOut, code := run(t, context.Background(), statusCmd(testEnv()), "--server", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "status_empty.golden", out)
}

// TestStatusColor checks that colors appear on a terminal and never with --no-color.
func TestStatusColor(t *testing.T) {
	_, url := newFakeAPI(t)
	env := testEnv()
	env.terminal = func(io.Writer) bool { return true }
	out, _, _ := run(t, context.Background(), statusCmd(env), "--server", url)
	if !strings.Contains(out, "\x1b[31mDegraded\x1b[0m") {
		t.Errorf("no color on a terminal:\n%s", out)
	}
	out, _, _ = run(t, context.Background(), statusCmd(env), "--server", url, "--no-color")
	if strings.Contains(out, "\x1b[") {
		t.Errorf("color despite --no-color:\n%s", out)
	}
}
