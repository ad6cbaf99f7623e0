package testenv

import (
	"testing"
	"time"
)

// Poll checks cond every interval until it holds; after timeout it fails the test (or
// benchmark) naming what it waited for. Tests wait for state this way, never by
// sleeping a guessed duration.
func Poll(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// Eventually is Poll with a 10 ms interval.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Poll(t, timeout, 10*time.Millisecond, what, cond)
}

// EventuallyNoError polls f until it returns nil; on timeout the failure shows f's
// last error.
func EventuallyNoError(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	var last error
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if last = f(); last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, last)
		}
		<-tick.C
	}
}

// PollDetail is Poll for conditions that can say why they do not hold yet: on timeout
// the failure shows the last detail (e.g. the last status report seen).
func PollDetail(t testing.TB, timeout, interval time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var detail string
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		var ok bool
		if ok, detail = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, detail)
		}
		<-tick.C
	}
}
