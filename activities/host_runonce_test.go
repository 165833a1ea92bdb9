package activities_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/internal/contract"
)

// An earlier operator try whose command is gone without an exit code (the
// host rebooted while no worker followed it) is reported once before a new
// try runs the command again: the person who retries then knows.
func TestHostCommandEarlierTryLostIsReportedOnce(t *testing.T) {
	f := newHostFixture(t)
	// Learn the marker layout (<marker dir>/<run>/<step>/<try>-<digest>) and
	// the activity IDs the test environment hands out.
	probe, err := f.run(t, activities.HostCommandInput{Command: "true"})
	require.NoError(t, err)
	runDir := filepath.Dir(filepath.Dir(probe.Marker))
	id, err := strconv.Atoi(filepath.Base(filepath.Dir(probe.Marker)))
	require.NoError(t, err, "the test environment numbers its activities")

	// The next try's step holds an earlier try's marker: started (pid),
	// no exit code, nobody holding its lock.
	earlier := filepath.Join(runDir, strconv.Itoa(id+1), "earlier-try")
	require.NoError(t, os.MkdirAll(earlier, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(earlier, "pid"), []byte("999999\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(earlier, "started"), []byte("at 2026-12-01T03:00:00Z by attempt 2 of upgrade-job_1\n"), 0o600))
	file := filepath.Join(t.TempDir(), "appended")
	in := activities.HostCommandInput{Command: `echo x >> "$F"`, Env: map[string]string{"F": file}}
	_, err = f.run(t, in)
	app := appErr(t, err)
	require.Equal(t, contract.ErrNotRepeatable, app.Type())
	require.Contains(t, app.Message(), "an earlier try of this step started it (")
	require.Contains(t, app.Message(), "by attempt 2 of upgrade-job_1) and it is gone without an exit code")
	require.NoFileExists(t, file, "not started")
	require.FileExists(t, filepath.Join(earlier, "reported"))

	// Reported: the person's next retry (a new try of the same step) runs it.
	next := filepath.Join(runDir, strconv.Itoa(id+2), "earlier-try")
	require.NoError(t, os.MkdirAll(filepath.Dir(next), 0o700))
	require.NoError(t, os.Rename(earlier, next))
	res, err := f.run(t, in)
	require.NoError(t, err)
	require.False(t, res.Reattached)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "x\n", string(b))
}
