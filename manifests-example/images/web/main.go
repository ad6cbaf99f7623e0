// Command web is the workload image of Keelson's example application and end-to-end
// tests. One static binary plays every role (frontend, backend, worker) through flags,
// because the image has no shell: `web check URL` is its exec-probe helper, and
// -exit-after/-exit-code make it crash on purpose for restart tests.
//
// Build it static: CGO_ENABLED=0 go build -o web ./manifests-example/images/web
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2:], os.Stderr))
	}
	if code, ok := subcommand(os.Args[1:], os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:]))
}

// config is what the flags (or KEELSON_WEB_* environment variables) say.
type config struct {
	listen    string
	udp       string
	message   string
	version   string
	exitAfter time.Duration
	exitCode  int
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	fs.StringVar(&c.listen, "listen", envOr("WEB_LISTEN", ":8080"), "HTTP listen address")
	fs.StringVar(&c.udp, "udp", envOr("WEB_UDP", ""), "UDP echo listen address (off when empty)")
	fs.StringVar(&c.message, "message", envOr("WEB_MESSAGE", "hello from keelson"), "message served at /")
	fs.StringVar(&c.version, "version", envOr("WEB_VERSION", "v1"), "version reported at /")
	fs.DurationVar(&c.exitAfter, "exit-after", 0, "exit on purpose after this long (0: never)")
	fs.IntVar(&c.exitCode, "exit-code", 1, "exit code used with -exit-after")
	return c, fs.Parse(args)
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func run(args []string) int {
	c, err := parseFlags(args)
	if err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		log.Error("listen", "addr", c.listen, "err", err)
		return 1
	}
	srv := &http.Server{Handler: newHandler(c, log), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving", "http", ln.Addr().String(), "version", c.version)

	if c.udp != "" {
		pc, err := net.ListenPacket("udp", c.udp)
		if err != nil {
			log.Error("listen udp", "addr", c.udp, "err", err)
			return 1
		}
		defer pc.Close()
		go echoUDP(pc)
	}

	var crash <-chan time.Time
	if c.exitAfter > 0 {
		crash = time.After(c.exitAfter)
	}
	select {
	case <-crash:
		log.Info("exiting on purpose", "code", c.exitCode)
		return c.exitCode
	case <-ctx.Done():
	}
	// Graceful stop: stop accepting, let requests in flight finish.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func newHandler(c config, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	host, _ := os.Hostname()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s\nversion: %s\nhostname: %s\npod IP: %s\n", c.message, c.version, host, localIP(r))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	registerInspect(mux)
	mux.HandleFunc("/resolve", handleResolve)
	mux.HandleFunc("/hostname", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, host) })
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		env := os.Environ()
		sort.Strings(env)
		fmt.Fprintln(w, strings.Join(env, "\n"))
	})
	client := &http.Client{Timeout: 5 * time.Second}
	mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		body, status, err := get(r.Context(), client, r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
	return logRequests(mux, log)
}

// localIP is the address the request arrived on: the pod IP inside a pod.
func localIP(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if host, _, err := net.SplitHostPort(a.String()); err == nil {
			return host
		}
	}
	return "unknown"
}

// get fetches url from inside the pod (for testing pod-to-Service paths).
func get(ctx context.Context, client *http.Client, url string) ([]byte, int, error) {
	if url == "" {
		return nil, 0, errors.New("missing ?url=")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("call %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("call %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("call %s: read body: %w", url, err)
	}
	return body, resp.StatusCode, nil
}

func logRequests(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "remote", r.RemoteAddr)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// echoUDP answers every datagram with itself.
func echoUDP(pc net.PacketConn) {
	buf := make([]byte, 64*1024)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteTo(buf[:n], addr)
	}
}

// check is `web check URL`: exit 0 when a GET of URL answers 2xx. Exec probes use it
// because the image has no shell or curl.
func check(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: web check URL")
		return 2
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintln(stderr, "check:", resp.Status)
		return 1
	}
	return 0
}
