package raftstore

import (
	"context"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger routes hashicorp/raft's hclog output into our slog logger, so the
// process has one log stream and no global logger.
func newHCLogger(logger *slog.Logger, level slog.Level) hclog.Logger {
	hl := hclog.Info
	switch {
	case level >= slog.LevelError:
		hl = hclog.Error
	case level >= slog.LevelWarn:
		hl = hclog.Warn
	case level < slog.LevelInfo:
		hl = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{
		Name: "raft", Level: hl, Output: slogWriter{logger}, DisableTime: true,
	})
}

// slogWriter turns one hclog line ("[WARN]  raft: message: k=v") into a slog record.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	lvl := slog.LevelInfo
	switch {
	case strings.HasPrefix(line, "[ERROR]"):
		lvl = slog.LevelError
	case strings.HasPrefix(line, "[WARN]"):
		lvl = slog.LevelWarn
	case strings.HasPrefix(line, "[DEBUG]"), strings.HasPrefix(line, "[TRACE]"):
		lvl = slog.LevelDebug
	}
	if i := strings.Index(line, "]"); i >= 0 {
		line = strings.TrimSpace(line[i+1:])
	}
	w.l.Log(context.Background(), lvl, line, "component", "raft")
	return len(p), nil
}
