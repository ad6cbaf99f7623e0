package main

import (
	"context"
	"strings"
	"testing"
)

func TestDescribeGolden(t *testing.T) {
	_, url := newFakeAPI(t)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"describe_pod.golden", []string{"pod", "backend-7xk2p"}},
		{"describe_rc.golden", []string{"rc", "frontend"}},
		{"describe_service.golden", []string{"svc", "backend"}},
		{"describe_node.golden", []string{"node", "n2"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, errOut, code := run(t, context.Background(), describeCmd(testEnv()), append(tc.args, "--server", url)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}
	_, errOut, code := run(t, context.Background(), describeCmd(testEnv()), "pod", "toolbox", "-n", "ops", "--server", url)
	if code != 1 || !strings.Contains(errOut, `pod "toolbox" not found in namespace ops`) {
		t.Errorf("missing pod: exit %d, %q", code, errOut)
	}
}

func TestEventsGolden(t *testing.T) {
	_, url := newFakeAPI(t)
	out, errOut, code := run(t, context.Background(), eventsCmd(testEnv()), "--server", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "events.golden", out)
	out, _, _ = run(t, context.Background(), eventsCmd(testEnv()), "--server", url, "--since", "103", "-o", "json")
	if !strings.Contains(out, `"seq": 104`) || strings.Contains(out, `"seq": 103`) {
		t.Errorf("--since 103 -o json:\n%s", out)
	}
}

func TestEventsWatch(t *testing.T) {
	f, url := newFakeAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := eventsCmd(testEnv())
	var out syncBuffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--watch", "--server", url})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	waitOutput(t, &out, "NodeNotReady")
	f.set(func(s *fixture) {
		e := s.events[0]
		e.Seq, e.Time, e.Reason, e.Message = 105, testNow, "Rolled", "stopping pod frontend-b4m9q"
		s.events = append(s.events, e)
	})
	waitOutput(t, &out, "stopping pod frontend-b4m9q")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "assigned to n1"); n != 1 {
		t.Errorf("an old event printed %d times:\n%s", n, out.String())
	}
}

func TestLogs(t *testing.T) {
	_, url := newFakeAPI(t)
	out, errOut, code := run(t, context.Background(), logsCmd(testEnv()), "toolbox", "-c", "toolbox", "--tail", "5", "--server", url)
	if code != 0 || out != "line 1\nline 2 container=toolbox tail=5\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	_, errOut, code = run(t, context.Background(), logsCmd(testEnv()), "ghost", "--server", url)
	if code != 1 || !strings.Contains(errOut, "404") {
		t.Fatalf("missing pod: exit %d, %q", code, errOut)
	}
}
