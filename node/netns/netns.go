// Package netns runs code inside another network namespace. The proxy and the route
// syncer use it so that tests can run them in private namespaces without touching the
// host's tables.
package netns

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread switched into the network namespace at path (the caller's
// own namespace when path is ""). Sockets keep the namespace they were created in, so
// a listener, a dialled connection or a netlink socket made inside fn works from any
// goroutine afterwards.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer unix.Close(target)

	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", path, err)
	}
	fnErr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime destroys it when this goroutine exits
		// instead of reusing a thread stuck in the wrong namespace.
		return fmt.Errorf("return from netns %s: %w", path, err)
	}
	runtime.UnlockOSThread()
	return fnErr
}
