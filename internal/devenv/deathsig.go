package devenv

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startBound starts cmd so that it never outlives this process: it gets SIGKILL when
// we die, even by SIGKILL (Pdeathsig), and runs in its own process group, so a kill
// or a Ctrl-C reaches only whom it is meant for. Pdeathsig fires when the forking
// *thread* exits, and Go ends threads (a goroutine that exits while locked to its
// thread, as the runtime's netns code does), so the fork happens on a goroutine
// locked to its thread that lives until the child exits. exited receives cmd.Wait's
// result, after which the caller may release what the child used.
func startBound(cmd *exec.Cmd, exited func(error)) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr.Setpgid = true
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited(cmd.Wait())
	}()
	return <-started
}
