package main

// Endpoints and subcommands that let tests look inside a pod through the image's only
// binary (there is no shell): who the process runs as, whether a path is writable,
// what a file holds; and `web write`/`web exists` for exec hooks and probes.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func registerInspect(mux *http.ServeMux) {
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, _ *http.Request) {
		groups, _ := os.Getgroups()
		gs := make([]string, len(groups))
		for i, g := range groups {
			gs[i] = strconv.Itoa(g)
		}
		fmt.Fprintf(w, "uid=%d gid=%d groups=%s capbnd=%s\n", os.Getuid(), os.Getgid(), strings.Join(gs, ","), capBnd())
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("path")
		if err := os.WriteFile(p, []byte("written\n"), 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	})
}

// subcommand runs `web write PATH TEXT` (write a file, for init containers and exec
// hooks) or `web exists PATH [MARK]` (exit 0 when PATH exists; appends a line to MARK
// on every call, so a test can see that a probe ran). ok is false for other arguments.
func subcommand(args []string, stderr io.Writer) (code int, ok bool) {
	switch {
	case len(args) == 3 && args[0] == "write":
		if err := os.WriteFile(args[1], []byte(args[2]), 0o644); err != nil {
			fmt.Fprintln(stderr, "write:", err)
			return 1, true
		}
		return 0, true
	case (len(args) == 2 || len(args) == 3) && args[0] == "exists":
		if len(args) == 3 {
			f, err := os.OpenFile(args[2], os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err == nil {
				_, _ = f.WriteString("probed\n")
				_ = f.Close()
			}
		}
		if _, err := os.Stat(args[1]); err != nil {
			fmt.Fprintln(stderr, "exists:", err)
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// capBnd is the process's bounding capability set (what it could ever gain) from /proc/self/status.
func capBnd() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
