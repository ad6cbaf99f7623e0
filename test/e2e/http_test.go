package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keelson/keelson/test/harness"
)

// answers checks that GET u returns 200 with want in the body.
func answers(ctx context.Context, u, want string) error {
	body, err := harness.HTTPGet(ctx, u)
	if err != nil {
		return err
	}
	if !strings.Contains(body, want) {
		return fmt.Errorf("GET %s: %q does not contain %q", u, body, want)
	}
	return nil
}

// viaPod is the URL that makes a pod behind base (e.g. the NodePort) fetch target
// from inside the pod network, with the web image's /call endpoint.
func viaPod(base, target string) string {
	return base + "/call?url=" + url.QueryEscape(target)
}

func hostPort(host string, port int32) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// requestLoop sends GETs to the URLs in turn, every interval, until stopped (or
// until max, so it always ends), counting failures.
type requestLoop struct {
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	ok       int
	failures []string
	bodies   map[string]int // the "version: vN" lines seen
}

func startRequestLoop(urls []string, interval, max time.Duration) *requestLoop {
	l := &requestLoop{stop: make(chan struct{}), done: make(chan struct{}), bodies: map[string]int{}}
	go func() {
		defer close(l.done)
		end := time.After(max)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			u := urls[i%len(urls)]
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			body, err := harness.HTTPGet(ctx, u)
			cancel()
			l.mu.Lock()
			if err != nil {
				l.failures = append(l.failures, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
			} else {
				l.ok++
				l.bodies[versionOf(body)]++
			}
			l.mu.Unlock()
			select {
			case <-l.stop:
				return
			case <-end:
				return
			case <-tick.C:
			}
		}
	}()
	return l
}

// Stop ends the loop and returns its counts.
func (l *requestLoop) Stop() (ok int, failures []string, versions map[string]int) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, l.failures, l.bodies
}

func versionOf(body string) string {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "version: ") {
			return strings.TrimPrefix(line, "version: ")
		}
	}
	return "?"
}
