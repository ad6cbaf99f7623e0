package printers

import (
	"strings"
	"testing"
	"time"
)

func TestAge(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {0, "0s"}, {119 * time.Second, "119s"}, {2 * time.Minute, "2m"},
		{119 * time.Minute, "119m"}, {2 * time.Hour, "2h"}, {47 * time.Hour, "47h"}, {49 * time.Hour, "2d"},
	} {
		if got := Age(now, now.Add(-tc.d)); got != tc.want {
			t.Errorf("Age(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := Age(now, time.Time{}); got != "<unknown>" {
		t.Errorf("zero time: %q", got)
	}
}

func TestBytes(t *testing.T) {
	for b, want := range map[int64]string{512: "512", 2048: "2Ki", 32 << 20: "32Mi", 2 << 30: "2Gi", 3584 << 20: "3.5Gi"} {
		if got := Bytes(b); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", b, got, want)
		}
	}
}

// TestColorKeepsAlignment checks that colored cells pad by their visible width, which
// text/tabwriter gets wrong.
func TestColorKeepsAlignment(t *testing.T) {
	tb := &Table{}
	tb.Row("NAME", "STATUS", "AGE")
	tb.Row("a", "Running", "1s")
	tb.Row("bbbbbb", "CrashLoopBackOff", "2m")
	var plain, color strings.Builder
	if err := tb.Write(&plain, false); err != nil {
		t.Fatal(err)
	}
	if err := tb.Write(&color, true); err != nil {
		t.Fatal(err)
	}
	stripped := strings.NewReplacer(ansiGreen, "", ansiRed, "", ansiReset, "").Replace(color.String())
	if stripped != plain.String() {
		t.Errorf("colored table misaligned:\n%s\nplain:\n%s", stripped, plain.String())
	}
	if !strings.Contains(color.String(), ansiRed+"CrashLoopBackOff"+ansiReset) {
		t.Errorf("no color: %q", color.String())
	}
	want := "NAME     STATUS             AGE\na        Running            1s\nbbbbbb   CrashLoopBackOff   2m\n"
	if plain.String() != want {
		t.Errorf("got\n%q\nwant\n%q", plain.String(), want)
	}
}
