package activities_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/internal/contract"
)

// What a new operator try of a step does with what earlier tries left on
// the host: each case lays an earlier try's marker into the folder of the
// next try's step, as a try that lost its worker or host would have left it.
func TestHostCommandNewTryLooksAtEarlierTries(t *testing.T) {
	f := newHostFixture(t)
	file := filepath.Join(t.TempDir(), "appended")
	in := activities.HostCommandInput{Command: `echo x >> "$F"; echo ran`, Env: map[string]string{"F": file}}
	ran := func() int { b, _ := os.ReadFile(file); return strings.Count(string(b), "x\n") }

	// Learn the marker layout (<marker dir>/<run>/<step>/<try>-<digest>),
	// the command's digest and the activity IDs the test environment hands
	// out (one number per activity).
	probe, err := f.run(t, in)
	require.NoError(t, err)
	require.Equal(t, 1, ran())
	runDir := filepath.Dir(filepath.Dir(probe.Marker))
	id, err := strconv.Atoi(filepath.Base(filepath.Dir(probe.Marker)))
	require.NoError(t, err, "the test environment numbers its activities")
	digest := probe.Marker[strings.LastIndexByte(probe.Marker, '-')+1:]
	next := func(name string, files map[string]string) string {
		id++
		dir := filepath.Join(runDir, strconv.Itoa(id), name)
		require.NoError(t, os.MkdirAll(dir, 0o700))
		for n, content := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(content), 0o600))
		}
		return dir
	}
	const started = "at 2026-12-01T03:00:00Z by try 1, attempt 3\n"

	t.Run("gone without an exit code: reported once, then run again", func(t *testing.T) {
		earlier := next("prev_1-"+digest, map[string]string{"pid": "999999\n", "started": started})
		_, err := f.run(t, in)
		app := appErr(t, err)
		require.Equal(t, contract.ErrNotRepeatable, app.Type())
		require.Contains(t, app.Message(), "an earlier try of this step started it (")
		require.Contains(t, app.Message(), "by try 1, attempt 3) and it is gone without an exit code")
		require.Equal(t, 1, ran(), "not started")
		require.FileExists(t, filepath.Join(earlier, "reported"))

		// The person's retry (a new try of the same step) runs it.
		require.NoError(t, os.Rename(earlier, next("", nil)+"/prev_1-"+digest))
		res, err := f.run(t, in)
		require.NoError(t, err)
		require.False(t, res.Reattached)
		require.Equal(t, 2, ran())
	})

	t.Run("finished with a result no try took: adopted", func(t *testing.T) {
		earlier := next("prev_1-"+digest, map[string]string{"pid": "999999\n", "started": started,
			"exit": "0\n", "out": "x appended by try 1\nran\n"})
		res, err := f.run(t, in)
		require.NoError(t, err)
		require.True(t, res.Reattached)
		require.Equal(t, "at 2026-12-01T03:00:00Z by try 1, attempt 3", res.StartedBy)
		require.Equal(t, []string{"x appended by try 1", "ran"}, res.Tail)
		require.Contains(t, res.Summary, "taken from the run started at 2026-12-01T03:00:00Z by try 1")
		require.Equal(t, 2, ran(), "not run again")
		require.FileExists(t, filepath.Join(earlier, "collected"))

		// Once taken, a later try runs the command again.
		require.NoError(t, os.Rename(earlier, next("", nil)+"/prev_1-"+digest))
		res, err = f.run(t, in)
		require.NoError(t, err)
		require.False(t, res.Reattached)
		require.Equal(t, 3, ran())
	})

	t.Run("another command of the step still running: busy", func(t *testing.T) {
		earlier := next("prev_1-0123456789abcdef", map[string]string{"pid": "1\n", "started": started})
		// Hold the earlier runner's lock, as its live runner would.
		lock, err := os.OpenFile(filepath.Join(earlier, "lock"), os.O_CREATE|os.O_WRONLY, 0o600)
		require.NoError(t, err)
		defer lock.Close()
		require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX))
		_, err = f.run(t, in)
		app := appErr(t, err)
		require.Equal(t, contract.ErrNotRepeatable, app.Type())
		require.Contains(t, app.Message(), "an earlier try of this step still runs it")
		require.Equal(t, 3, ran(), "not started")
	})
}

// When the host does not answer, a try whose earlier attempt started the
// command says so: the person who reads the paused step knows it may run.
func TestHostCommandUnreachableAfterAnEarlierAttemptSaysItMayRun(t *testing.T) {
	f := newHostFixture(t)
	f.env.SetHeartbeatDetails(map[string]any{"lines": 3, "last": "copying", "marker": "/root/.upgrader/commands/r/s/s_1-0123456789abcdef"})
	target := f.target
	target.Address = "127.0.0.1:1"
	_, err := f.run(t, activities.HostCommandInput{Host: target, Command: "bkcli upgrade job"})
	require.ErrorContains(t, err, "unable to reach mysql-1")
	require.ErrorContains(t, err, "`bkcli upgrade job` was started there by an earlier attempt (marker /root/.upgrader/commands/r/s/s_1-0123456789abcdef)")
}
