package activities_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
)

// TestLocalCommandKeepsStdinExitCodeAndExtraFiles: the reaper shell is
// invisible to the command: stdin reaches it, its exit code comes back,
// and an extra file keeps its descriptor.
func TestLocalCommandKeepsStdinExitCodeAndExtraFiles(t *testing.T) {
	cmd := activities.LocalCommand(context.Background(), "sh", "-c", "read x; echo got $x; cat <&3; exit 7")
	cmd.Stdin = strings.NewReader("hello\n")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd.ExtraFiles = []*os.File{r}
	_, _ = w.WriteString("from-fd-3\n")
	w.Close()
	out, err := cmd.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 7, exit.ExitCode())
	require.Equal(t, "got hello\nfrom-fd-3\n", string(out))
}

// TestLocalCommandDiesWithItsWorker: a process standing in for the worker
// starts a shell whose child sleeps, and is SIGKILLed; a second later
// neither the shell's child nor anything of its group is alive.
func TestLocalCommandDiesWithItsWorker(t *testing.T) {
	if os.Getenv("UPGRADER_PROC_HELPER") == "1" {
		cmd := activities.LocalCommand(context.Background(), "sh", "-c", "sleep 300 & echo $!; wait")
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			os.Exit(3)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		os.Stdout.WriteString(strconv.Itoa(cmd.Process.Pid) + " " + line)
		time.Sleep(time.Hour)
	}
	helper := exec.Command(os.Args[0], "-test.run", "^TestLocalCommandDiesWithItsWorker$")
	helper.Env = append(os.Environ(), "UPGRADER_PROC_HELPER=1")
	out, err := helper.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, helper.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	fields := strings.Fields(line)
	require.Len(t, fields, 2, line)
	pgid, _ := strconv.Atoi(fields[0])
	grandchild, _ := strconv.Atoi(fields[1])
	require.NoError(t, syscall.Kill(grandchild, 0), "the command's child runs")

	require.NoError(t, helper.Process.Kill())
	_ = helper.Wait()
	require.Eventually(t, func() bool { return !alive(grandchild) && !alive(pgid) },
		time.Second, 20*time.Millisecond, "nothing of the step's process group outlives its worker")
}

// alive says whether pid runs: a zombie (dead, not yet reaped by an init
// that may never reap it) does not count.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] != 'Z'
}
