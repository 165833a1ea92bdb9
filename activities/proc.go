package activities

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// reaper runs a step's command as a child of a small shell that dies with
// its whole process group. The kernel's parent-death signal (Pdeathsig)
// reaches only the worker's direct child: a shell script's own children
// (compose, yq, a pipeline) would outlive a SIGKILLed worker and go on
// writing. So the direct child is this shell: on SIGTERM (the parent-death
// signal) or HUP/INT it kills its group, the command and every process the
// command started. stdin is kept through fd 9 (a background job's stdin is
// /dev/null otherwise); fds 3–8 stay free for ExtraFiles (a password pipe).
const reaper = `exec 9<&0; trap 'kill -KILL 0' TERM HUP INT; "$@" <&9 9<&- & wait $!`

// localCommand builds a command a step starts on the worker's own machine
// (dump tools, compose, local shells) so that it never outlives its try:
// it runs under reaper in its own process group; the kernel signals the
// reaper when the worker dies (a SIGKILLed worker included), and the reaper
// kills the group; when ctx ends (the try is cancelled or timed out) the
// whole group is killed at once. A second try therefore never races a first
// try's orphan writing the same file.
func localCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", reaper, "upgrader-step", name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		// The negative pid is the process group: the reaper, the command
		// and its children.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
