package activities_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/tests/lab"
)

// The dump lands read-only, its recorded SHA-256 is that of the file in
// place, no temp file is left, and VerifyBackup tells a changed or missing
// backup from the one recorded.
func TestDumpIsPutInPlaceReadOnlyAndVerifiedAgain(t *testing.T) {
	f := newDBFixture(t)
	f.sql(t, "CREATE DATABASE bk_cmdb")
	f.sql(t, "CREATE TABLE bk_cmdb.t (id INT)")
	out := filepath.Join(t.TempDir(), "dbbak", "all.sql")
	// What an earlier, dead try of this step left half-written.
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o700))
	stale := filepath.Join(filepath.Dir(out), ".all.sql.deadbeef-0-a1.tmp")
	require.NoError(t, os.WriteFile(stale, []byte("-- partial"), 0o600))

	dump := func() activities.DumpResult {
		val, err := f.env.ExecuteActivity(f.m.DumpMySQL, activities.DumpInput{DB: f.root, Databases: []string{"bk_cmdb"}, OutPath: out})
		require.NoError(t, err)
		var res activities.DumpResult
		require.NoError(t, val.Get(&res))
		return res
	}
	res := dump()
	st, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o444), st.Mode().Perm())
	sum, err := activities.FileSHA256(out)
	require.NoError(t, err)
	require.Equal(t, sum, res.SHA256)
	require.Equal(t, st.Size(), res.Bytes)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".all.sql.*"))
	require.Empty(t, left, "neither this try's temp file nor the dead try's is left")

	verify := func() error {
		_, err := f.env.ExecuteActivity(f.m.VerifyBackup, activities.VerifyBackupInput{Path: out, SHA256: res.SHA256})
		return err
	}
	require.NoError(t, verify())

	// An operator's retry of the step replaces the read-only file with a new one.
	f.sql(t, "INSERT INTO bk_cmdb.t VALUES (1)")
	res2 := dump()
	require.NotEqual(t, res.SHA256, res2.SHA256)
	app := appErr(t, verify())
	require.Equal(t, activities.ErrBackupChanged, app.Type())
	require.Contains(t, app.Message(), "it changed after it was checked; do not go on")

	require.NoError(t, os.Remove(out))
	app = appErr(t, verify())
	require.Equal(t, activities.ErrBackupChanged, app.Type())
	require.Contains(t, app.Message(), "is gone")
}

// While a live try holds the destination's lock, a second try waits: it
// never writes or moves anything until the first is gone.
func TestDumpWaitsForTheTryHoldingTheLock(t *testing.T) {
	f := newDBFixture(t)
	f.sql(t, "CREATE DATABASE bk_cmdb")
	out := filepath.Join(t.TempDir(), "all.sql")
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX))
	done := make(chan error, 1)
	go func() {
		_, err := f.env.ExecuteActivity(f.m.DumpMySQL, activities.DumpInput{DB: f.root, Databases: []string{"bk_cmdb"}, OutPath: out})
		done <- err
	}()
	time.Sleep(1500 * time.Millisecond)
	_, err = os.Stat(out)
	require.True(t, os.IsNotExist(err), "nothing was moved into place while another try held the lock")
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".all.sql.*.tmp"))
	require.Empty(t, tmps, "no temp file before the lock is ours")
	require.NoError(t, lock.Close())
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the dump did not go on after the lock was released")
	}
	require.FileExists(t, out)
}

// On a host, an earlier try of the same step that is still running (its
// worker or SSH session was lost) is stopped, its process group killed,
// and the new try dumps; a dump of another step holding the lock is left
// alone and reported.
func TestRemoteDumpTakesOverFromItsOwnLostTryOnly(t *testing.T) {
	f := newDBFixture(t)
	f.sql(t, "CREATE DATABASE bk_cmdb")
	sshd := lab.StartSSHD(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(known, []byte(sshd.KnownHostLine+"\n"), 0o600))
	f.store = config.NewSecretStore(map[string]config.Secret{"root-pw": {Value: f.maria.RootPassword}, "key": {Value: sshd.ClientKeyPEM}})
	f.m.Secrets, f.m.Scrub = f.store, f.store
	f.m.Host = &activities.Host{Secrets: f.store, Scrub: f.store, KnownHostsFiles: []string{known}}
	via := &activities.SSHTarget{Name: "mysql-host", Address: sshd.Addr, User: sshd.User, KeyRef: "key"}
	out := filepath.Join(t.TempDir(), "bk_mysql_alldata.sql")

	// holder plays a dump on the host: it holds the lock in its own
	// process group and names itself the way a try does.
	holder := func(step string) *exec.Cmd {
		cmd := exec.Command("sh", "-c", fmt.Sprintf(`exec 9>>'%[1]s.lock'; flock 9
read -r _ _ _ _ pg _ < /proc/$$/stat
echo "%[2]s %[2]s-a1 $pg" > '%[1]s.lock.owner'
echo locked; sleep 300 & wait`, out, step))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		buf := make([]byte, 7)
		_, err = stdout.Read(buf)
		require.NoError(t, err)
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
		return cmd
	}

	other := holder("backup-db_other")
	_, err := f.env.ExecuteActivity(f.m.DumpMySQL, activities.DumpInput{DB: f.root, Via: via, Databases: []string{"bk_cmdb"}, OutPath: out})
	require.ErrorContains(t, err, "is being written by another dump (backup-db_other")
	require.NoError(t, syscall.Kill(other.Process.Pid, 0), "another step's dump is left alone")
	_ = syscall.Kill(-other.Process.Pid, syscall.SIGKILL)
	_ = other.Wait()

	// A fresh test activity environment's first step is "0".
	own := holder("0")
	waited := make(chan error, 1)
	go func() { waited <- own.Wait() }()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.m)
	val, err := env.ExecuteActivity(f.m.DumpMySQL, activities.DumpInput{DB: f.root, Via: via, Databases: []string{"bk_cmdb"}, OutPath: out})
	require.NoError(t, err)
	var res activities.DumpResult
	require.NoError(t, val.Get(&res))
	select {
	case err := <-waited:
		require.ErrorContains(t, err, "killed", "the lost try's process group was killed")
	case <-time.After(10 * time.Second):
		t.Fatal("the lost try still runs")
	}
	sum, err := activities.FileSHA256(out)
	require.NoError(t, err)
	require.Equal(t, sum, res.SHA256)
	owner, _ := os.ReadFile(out + ".lock.owner")
	require.True(t, strings.HasPrefix(string(owner), "0 "), string(owner))
}
