package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keelson/keelson/node"
)

// followInterval is how often a followed log is checked for new data. Polling a file
// is simple, survives rotation and costs nothing measurable at this rate.
const followInterval = 200 * time.Millisecond

// Logs writes the container's log file to w: the last opts.Tail lines (all when 0),
// then, with opts.Follow, whatever is appended until ctx ends. A rotated file
// (truncated, or replaced by a new one) is followed from its start.
func (r *Runtime) Logs(ctx context.Context, id string, w io.Writer, opts node.LogOptions) error {
	info, err := r.ContainerStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", id, err)
	}
	if info.LogPath == "" {
		return fmt.Errorf("logs of %s: the container has no log file", id)
	}
	f, err := os.Open(info.LogPath)
	if errors.Is(err, os.ErrNotExist) && opts.Follow {
		f, err = waitForFile(ctx, info.LogPath)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil // never started: nothing logged yet
	}
	if err != nil {
		return fmt.Errorf("logs of %s: %w", id, err)
	}
	defer func() { _ = f.Close() }()
	if opts.Tail > 0 {
		if err := seekTail(f, opts.Tail); err != nil {
			return fmt.Errorf("logs of %s: %w", id, err)
		}
	}
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("logs of %s: %w", id, err)
	}
	if !opts.Follow {
		return nil
	}
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if f, err = reopenIfRotated(f, info.LogPath); err != nil {
			return fmt.Errorf("logs of %s: %w", id, err)
		}
		if _, err := io.Copy(w, f); err != nil {
			return fmt.Errorf("logs of %s: %w", id, err)
		}
	}
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	const block = 32 * 1024
	end := st.Size()
	pos := end
	newlines := 0
	buf := make([]byte, block)
	for pos > 0 {
		size := int64(block)
		if pos < size {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		chunk := buf[:size]
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' || pos+int64(i) == end-1 {
				continue // a final newline ends the last line; it does not start one
			}
			newlines++
			if newlines == n {
				_, err := f.Seek(pos+int64(i)+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

// reopenIfRotated returns f, or a fresh handle on path at offset 0 when the file was
// truncated or replaced since f was opened (after draining what f still had).
func reopenIfRotated(f *os.File, path string) (*os.File, error) {
	cur, err := f.Stat()
	if err != nil {
		return f, err
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return f, err
	}
	now, err := os.Stat(path)
	if err != nil {
		return f, nil // between rename and re-create: try again next tick
	}
	switch {
	case !os.SameFile(cur, now):
	case now.Size() < pos:
	default:
		return f, nil
	}
	nf, err := os.Open(path)
	if err != nil {
		return f, nil
	}
	_ = f.Close()
	return nf, nil
}

// waitForFile waits for a log file a starting container has not written yet.
func waitForFile(ctx context.Context, path string) (*os.File, error) {
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	for {
		f, err := os.Open(path)
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, os.ErrNotExist
		case <-tick.C:
		}
	}
}
