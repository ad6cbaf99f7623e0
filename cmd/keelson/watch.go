package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keelson/keelson/internal/backoff"
)

// watchRetry is how long --watch waits after a failed query before the next one.
const watchRetry = 2 * time.Second

// follow is the one --watch loop of the CLI (get, events): it runs step with the index
// of the last answer until ctx ends. step makes one blocking query (waiting for a change
// after index), prints what changed and returns the index of its answer. A failed query
// (a server restarting, a leader election) is reported on errw and retried after
// watchRetry with the same index; a failure to print ends the watch. Cancelling ctx
// (Ctrl-C) ends it cleanly.
func follow(ctx context.Context, errw io.Writer, index uint64, step func(ctx context.Context, index uint64) (uint64, error)) error {
	for {
		next, err := step(ctx, index)
		if ctx.Err() != nil {
			return nil
		}
		var out *outputError
		if errors.As(err, &out) {
			return out.err
		}
		if err != nil {
			fmt.Fprintf(errw, "watch: %v (retrying)\n", err)
			if !backoff.Sleep(ctx, watchRetry) {
				return nil
			}
			continue
		}
		index = next
	}
}

// outputError wraps a failure to print, so follow stops instead of retrying.
type outputError struct{ err error }

func (e *outputError) Error() string { return "write output: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// printed marks err (from writing the output) as final for follow.
func printed(err error) error {
	if err == nil {
		return nil
	}
	return &outputError{err}
}
