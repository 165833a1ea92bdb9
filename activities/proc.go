package activities

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// localCommand builds a command a step starts on the worker's own machine
// (dump tools, compose, local shells) so that it never outlives its try:
// it runs in its own process group, the kernel sends it SIGKILL when the
// worker thread that started it dies (a SIGKILLed worker included), and when
// ctx ends (the try is cancelled or timed out) the whole group is killed,
// children of the shell too. A second try therefore never races a first
// try's orphan writing the same file.
func localCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		// The negative pid is the process group: the shell and its children.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
