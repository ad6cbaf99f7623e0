package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
)

// A container that keeps exiting is restarted with a growing delay and reported as
// CrashLoopBackOff with its exit code, through the real runtime and the real server.
func TestCrashLoopBackOffOnContainerd(t *testing.T) {
	c := start(t)
	c.git.Push(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  containers:
  - name: web
    image: %s
    args: ["-listen", ":8080", "-exit-after", "200ms", "-exit-code", "3"]
`, c.img))
	var sawBackoff, sawExit3 bool
	waitFor(t, 90*time.Second, "three restarts with CrashLoopBackOff and exit code 3", func() bool {
		p, ok := c.pod(t, "crasher")
		if !ok || len(p.Status.Containers) == 0 {
			return false
		}
		cs := p.Status.Containers[0]
		if cs.State == api.ContainerWaiting && cs.Reason == "CrashLoopBackOff" {
			sawBackoff = true
		}
		if cs.ExitCode == 3 {
			sawExit3 = true
		}
		return sawBackoff && sawExit3 && cs.RestartCount >= 3
	})
}

// Removing a pod from Git stops it gracefully: the web server exits on SIGTERM, so the
// pod is gone long before its 60 s grace period would force a kill.
func TestGracefulStopOnContainerd(t *testing.T) {
	c := start(t)
	c.git.Push(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: graceful
spec:
  terminationGracePeriodSeconds: 60
  containers:
  - name: web
    image: %s
    args: ["-listen", ":8080"]
`, c.img))
	waitFor(t, 60*time.Second, "the pod to run", func() bool {
		p, ok := c.pod(t, "graceful")
		return ok && p.Status.Phase == "Running"
	})
	c.git.Push(t, `apiVersion: v1
kind: Pod
metadata:
  name: placeholder
spec:
  containers:
  - name: web
    image: `+c.img+`
    args: ["-listen", ":8080"]
`)
	// Well inside the grace period: only SIGTERM can have ended it this soon.
	waitFor(t, 30*time.Second, "the removed pod to be stopped and gone", func() bool {
		_, ok := c.pod(t, "graceful")
		return !ok
	})
}
