package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
)

// slowMysqldump puts a mysqldump first on the worker's PATH that logs its
// start, waits without a child process (bash's read -t on a FIFO), then
// execs the real one in the same process, so the dump is one process, the
// worker's direct child, as the real mysqldump is; fd 3 (the password
// pipe) is inherited. --version answers at once.
func slowMysqldump(t *testing.T, wait time.Duration) (dir, log string) {
	real, err := lookPath("mysqldump")
	require.NoError(t, err)
	dir = t.TempDir()
	log = filepath.Join(dir, "calls.log")
	writeFile(t, filepath.Join(dir, "mysqldump"), fmt.Sprintf(`#!/bin/bash
case "$1" in --version) exec %[1]s --version ;; esac
echo "start $$" >> %[2]s
fifo=%[4]s/fifo.$$
mkfifo "$fifo"
read -r -t %[3]d <> "$fifo"
rm -f "$fifo"
exec %[1]s "$@"
`, real, log, int(wait.Seconds()), dir))
	require.NoError(t, os.Chmod(filepath.Join(dir, "mysqldump"), 0o755))
	return dir, log
}

func lookPath(name string) (string, error) {
	for _, d := range strings.Split(os.Getenv("PATH"), ":") {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

func seedDumpDB(t *testing.T, l *dbLab) {
	l.exec(t, "CREATE DATABASE bk_cmdb", "CREATE TABLE bk_cmdb.t (id INT, s VARCHAR(10))", "INSERT INTO bk_cmdb.t VALUES (1, 'a;b')")
}

func checkBackup(t *testing.T, res *activities.DumpResult, out string) {
	t.Helper()
	sum, err := activities.FileSHA256(out)
	require.NoError(t, err)
	require.Equal(t, res.SHA256, sum, "the backup on disk is the one recorded")
	st, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o444), st.Mode().Perm())
	require.Equal(t, st.Size(), res.Bytes)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(b), "CREATE DATABASE")
	require.Contains(t, string(b), "'a;b'")
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".*"))
	require.Empty(t, left, "no temp file is left")
}

// A dump that runs 16 s, past three times its 5 s heartbeat timeout,
// completes in its first try: the step heartbeats while mysqldump runs, and
// no second mysqldump is ever started beside it.
func TestDumpLongerThanThreeHeartbeatTimeoutsCompletesInOneTry(t *testing.T) {
	l := newDBLab(t, "dump-slow")
	seedDumpDB(t, l)
	dir, log := slowMysqldump(t, 16*time.Second)
	l.worker(t, "w1", "PATH="+dir+":"+os.Getenv("PATH"))
	out := filepath.Join(t.TempDir(), "dbbak", "all.sql")

	var mu sync.Mutex
	most := 0
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			n := processesRunning("--defaults-extra-file=/dev/fd/3")
			mu.Lock()
			most = max(most, n)
			mu.Unlock()
		}
	}()
	start := time.Now()
	run := l.startStep(t, "dump-slow", stepCall{ActivityID: "backup-db/mysql#1", Heartbeat: 5 * time.Second,
		Dump: &activities.DumpInput{DB: l.target(), Databases: []string{"bk_cmdb"}, OutPath: out}})
	res := waitStep(t, run, 2*time.Minute)
	close(stop)
	t.Logf("16 s dump under a 5 s heartbeat timeout: done in %s; %s", time.Since(start).Round(100*time.Millisecond), res.Dump.Summary)
	require.Equal(t, int32(1), activityAttempt(t, run), "one try")
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(calls), "start "), "mysqldump ran once: %s", calls)
	mu.Lock()
	require.Equal(t, 1, most, "one mysqldump alive at any time")
	mu.Unlock()
	checkBackup(t, res.Dump, out)

	// Before a destructive step: the backup is still the one recorded.
	v := waitStep(t, l.startStep(t, "dump-slow-verify", stepCall{ActivityID: "verify-backup/mysql#1", Heartbeat: 5 * time.Second,
		Verify: &activities.VerifyBackupInput{Path: out, SHA256: res.Dump.SHA256}}), time.Minute)
	require.Contains(t, v.Verify.Summary, "unchanged")
}

// The worker is SIGKILLed while its mysqldump runs: one second later no
// process of the dump's group is alive; the next try, on a new worker,
// writes the backup, and the file on disk matches the SHA-256 it recorded.
func TestWorkerKilledDuringADumpLeavesNoChildAndAVerifiedBackup(t *testing.T) {
	l := newDBLab(t, "dump-kill")
	seedDumpDB(t, l)
	dir, log := slowMysqldump(t, 6*time.Second)
	env := "PATH=" + dir + ":" + os.Getenv("PATH")
	first := l.worker(t, "w1", env)
	out := filepath.Join(t.TempDir(), "dbbak", "all.sql")
	run := l.startStep(t, "dump-kill", stepCall{ActivityID: "backup-db/mysql#1", Heartbeat: 5 * time.Second,
		Dump: &activities.DumpInput{DB: l.target(), Databases: []string{"bk_cmdb"}, OutPath: out}})

	var pid int
	eventually(t, time.Minute, "the first mysqldump to start", func() bool {
		b, _ := os.ReadFile(log)
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			pid, _ = strconv.Atoi(f[1])
		}
		return pid > 0
	})
	require.NotEmpty(t, groupAlive(pid), "the dump runs in its own process group")
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".all.sql.*-a1.tmp"))
	require.Len(t, tmps, 1, "the first try writes its own temp file")
	first.kill(t)
	time.Sleep(time.Second)
	require.Empty(t, groupAlive(pid), "no child of the dead worker is alive 1 s after the kill")

	killed := time.Now()
	l.worker(t, "w2", env)
	res := waitStep(t, run, 2*time.Minute)
	t.Logf("worker killed mid-dump; the next try finished %s later: %s", time.Since(killed).Round(100*time.Millisecond), res.Dump.Summary)
	require.Equal(t, int32(2), activityAttempt(t, run))
	calls, _ := os.ReadFile(log)
	require.Equal(t, 2, strings.Count(string(calls), "start "), "%s", calls)
	checkBackup(t, res.Dump, out)
}
