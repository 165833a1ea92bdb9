package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
)

// tryTag names one try of one step of one run, for the temp file a backup
// is written to: <run>-<step>-a<attempt>. Two tries never share a name.
func tryTag(ctx context.Context) (step, tag string) {
	if !activity.IsActivity(ctx) {
		return "local", fmt.Sprintf("local-p%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	info := activity.GetInfo(ctx)
	run := info.WorkflowExecution.RunID
	if len(run) > 8 {
		run = run[:8]
	}
	step = strings.ReplaceAll(safePath(StepName(ctx)), "/", "_")
	return step, fmt.Sprintf("%s-%s-a%d", run, step, info.Attempt)
}

// backupTry is one try's claim on a backup file on the worker: it holds an
// exclusive lock on <dest>.lock for as long as it lives (the kernel drops
// the lock when the worker dies), writes only its own temp file (opened
// O_EXCL, named by run, step and attempt), and only it may rename that
// file over dest. A child left by a dead try can write nothing but its own
// temp file, which no one renames; the new try removes it.
type backupTry struct {
	Dest string
	Tmp  string
	lock *os.File
	file *os.File
}

// claimBackup waits (while ctx lives) for the lock on dest and creates the
// try's temp file next to dest.
func claimBackup(ctx context.Context, dest string) (*backupTry, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return nil, fmt.Errorf("unable to create %s: %w", filepath.Dir(dest), err)
	}
	lock, err := os.OpenFile(dest+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("unable to open the lock file %s.lock: %w", dest, err)
	}
	step, tag := tryTag(ctx)
	for {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			lock.Close()
			return nil, fmt.Errorf("unable to lock %s.lock: %w", dest, err)
		}
		select {
		case <-ctx.Done():
			holder, _ := os.ReadFile(dest + ".lock")
			lock.Close()
			return nil, fmt.Errorf("%s is locked by a live try (%s) on this machine; it ends with its worker or its timeout, then retry: %w",
				dest, strings.TrimSpace(string(holder)), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	_ = lock.Truncate(0)
	_, _ = lock.WriteAt([]byte(fmt.Sprintf("%s pid %d since %s\n", tag, os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)

	// What earlier tries of this step left: their writers are dead (they
	// held the lock while alive), their files are partial.
	dir, base := filepath.Dir(dest), filepath.Base(dest)
	if old, _ := filepath.Glob(filepath.Join(dir, "."+base+".*-"+step+"-a*.tmp")); len(old) > 0 {
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	t := &backupTry{Dest: dest, Tmp: filepath.Join(dir, "."+base+"."+tag+".tmp"), lock: lock}
	t.file, err = os.OpenFile(t.Tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("unable to create this try's temp file %s: %w", t.Tmp, err)
	}
	return t, nil
}

// File is the temp file the try writes.
func (t *backupTry) File() *os.File { return t.file }

// commit moves the finished temp file into place, makes it read-only and
// returns its size and the SHA-256 of the file now at dest.
func (t *backupTry) commit() (int64, string, error) {
	if err := t.file.Sync(); err != nil {
		return 0, "", fmt.Errorf("unable to flush %s: %w", t.Tmp, err)
	}
	if err := t.file.Close(); err != nil {
		return 0, "", fmt.Errorf("unable to close %s: %w", t.Tmp, err)
	}
	t.file = nil
	if err := os.Rename(t.Tmp, t.Dest); err != nil {
		return 0, "", fmt.Errorf("unable to move the dump into place at %s: %w", t.Dest, err)
	}
	if err := os.Chmod(t.Dest, 0o444); err != nil {
		return 0, "", fmt.Errorf("unable to make %s read-only: %w", t.Dest, err)
	}
	if d, err := os.Open(filepath.Dir(t.Dest)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	st, err := os.Stat(t.Dest)
	if err != nil {
		return 0, "", err
	}
	sum, err := FileSHA256(t.Dest)
	if err != nil {
		return 0, "", fmt.Errorf("unable to read back %s: %w", t.Dest, err)
	}
	return st.Size(), sum, nil
}

// release drops the lock and, unless committed, the temp file.
func (t *backupTry) release() {
	if t.file != nil {
		t.file.Close()
		_ = os.Remove(t.Tmp)
	}
	_ = t.lock.Close()
}
