// Package backoff is the one retry wait of the control plane (and, later, the agents):
// a context-aware sleep and a doubling delay, so every retry loop stops promptly on
// shutdown and none spins.
package backoff

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends; it reports whether ctx is still live, so a loop
// reads `if !backoff.Sleep(ctx, d) { return }`.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Doubling is a delay that starts at Initial and doubles on every Next up to Max;
// Reset starts over after a success. The zero value of cur means "not started".
type Doubling struct {
	Initial, Max time.Duration
	cur          time.Duration
}

// Next returns the delay before the next attempt.
func (b *Doubling) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Initial
	} else {
		b.cur = min(2*b.cur, b.Max)
	}
	return b.cur
}

// Reset makes the next delay Initial again.
func (b *Doubling) Reset() { b.cur = 0 }

// Current is the last delay Next returned (0 after Reset).
func (b *Doubling) Current() time.Duration { return b.cur }
