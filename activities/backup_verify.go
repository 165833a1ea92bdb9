package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// ErrBackupChanged: a backup's content is not what its step recorded.
const ErrBackupChanged = "BackupChanged"

// VerifyBackupInput names a backup a dump step made and the SHA-256 it
// recorded (DumpResult.Path/SHA256, MongoDumpResult.Path/SHA256).
type VerifyBackupInput struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Via is the host holding the backup; nil: the worker.
	Via *SSHTarget `json:"via,omitempty"`
	// Drill, when set, proves a mysqldump file restores: after the hash,
	// the dump is loaded into scratch databases on this server
	// (upgrader_verify_<run>_<n>, dropped after) and their tables and rows
	// compared with the dump's and the source's (backup_drill.go). A dump
	// on a host (Via) is copied to the worker for it, and the copy's
	// SHA-256 checked, then removed.
	Drill *DBTarget `json:"drill,omitempty"`
}

// VerifyBackupResult is what was found.
type VerifyBackupResult struct {
	contract.Outcome
	SHA256   string `json:"sha256"`
	ReadOnly bool   `json:"readOnly"`
	Bytes    int64  `json:"bytes,omitempty"`
	// Restored is the restore drill's finding, when one ran.
	Restored *RestoreDrill `json:"restored,omitempty"`
}

// Hashing a backup of many GiB takes minutes: heartbeat while it runs.
var _ = contract.Declare((*MySQL).VerifyBackup, contract.Options{Heartbeat: 20 * time.Second})

// VerifyBackup hashes the backup again, right before a destructive step,
// and fails (for a person: do not go on) unless it is the one recorded:
// a file's SHA-256, or for a folder (mongodump's) the SHA-256 of its
// manifest, `sha256sum` of every file sorted by path.
func (m *MySQL) VerifyBackup(ctx context.Context, in VerifyBackupInput) (VerifyBackupResult, error) {
	if !filepath.IsAbs(in.Path) || len(in.SHA256) != 64 {
		return VerifyBackupResult{}, invalid("verify backup: path %q must be absolute and sha256 %q 64 hex digits", in.Path, in.SHA256)
	}
	var res VerifyBackupResult
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		if in.Via == nil {
			res.SHA256, res.ReadOnly, err = backupDigest(in.Path)
			if os.IsNotExist(err) {
				return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"the backup %s is gone from the worker; do not go on: make a new backup: abort this run and start it again (a new run dumps again)", in.Path), ErrBackupChanged, nil)
			}
			return err
		}
		if m.Host == nil {
			return invalid("no SSH configured on this worker to reach %s", in.Via)
		}
		q := shellescape.Quote(in.Path)
		text, err := m.Host.capture(ctx, *in.Via, fmt.Sprintf(`set -e
p=%s
[ -e "$p" ] || { echo UPGRADER-GONE; exit 0; }
if [ -d "$p" ]; then
  (cd "$p" && echo "UPGRADER-SHA256 $(find . -type f | LC_ALL=C sort | xargs -r sha256sum | sha256sum | cut -d' ' -f1)")
else
  echo "UPGRADER-SHA256 $(sha256sum < "$p" | cut -d' ' -f1)"
fi
if [ -z "$(find "$p" -perm /222 | head -n1)" ]; then echo UPGRADER-RO; fi
`, q), nil)
		if err != nil {
			return fmt.Errorf("unable to hash the backup %s on %s: %w", in.Path, in.Via, err)
		}
		if strings.Contains(text, "UPGRADER-GONE") {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"the backup %s is gone from %s; do not go on: make a new backup: abort this run and start it again (a new run dumps again)", in.Path, in.Via), ErrBackupChanged, nil)
		}
		res.SHA256 = strings.TrimSpace(afterMarker(text, "UPGRADER-SHA256"))
		res.ReadOnly = strings.Contains(text, "UPGRADER-RO")
		return nil
	})
	if err != nil {
		return res, err
	}
	if !strings.EqualFold(res.SHA256, in.SHA256) {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the backup %s on %s has sha256 %s, not the %s its dump recorded: it changed after it was checked; do not go on: make a new backup: abort this run and start it again (a new run dumps again)",
			in.Path, where(in.Via), res.SHA256, in.SHA256), ErrBackupChanged, nil, res)
	}
	res.Summary = fmt.Sprintf("backup %s on %s unchanged (sha256 %s…)", in.Path, where(in.Via), res.SHA256[:12])
	if !res.ReadOnly {
		res.Summary += "; note: it is writable again"
	}
	if in.Drill != nil {
		local := in
		err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
			if in.Via != nil {
				// The dump stays on its host: a copy on the worker, checked
				// against the recorded SHA-256, is what gets loaded.
				copyPath, done, err := m.fetchDump(ctx, in)
				if err != nil {
					return err
				}
				defer done()
				local.Path = copyPath
			}
			if st, err := os.Stat(local.Path); err == nil {
				res.Bytes = st.Size()
			}
			var err error
			res.Restored, err = m.drill(ctx, local)
			return err
		})
		if err != nil {
			return res, err
		}
		d := res.Restored
		res.Summary = fmt.Sprintf("backup verified: %d tables, %d rows, sha256 %s (%d bytes); restored into %s on %s and dropped; %s",
			d.Tables, d.Rows, res.SHA256, res.Bytes, strings.Join(d.Scratch, ", "), in.Drill, d.SourceNote)
		if in.Via != nil {
			res.Summary = strings.Replace(res.Summary, "; restored into", "; copied from "+in.Via.String()+", restored into", 1)
		}
		res.Outputs = map[string]string{"sha256": res.SHA256, "bytes": fmt.Sprint(res.Bytes), "tables": fmt.Sprint(d.Tables), "rows": fmt.Sprint(d.Rows)}
	}
	return res, nil
}

// backupDigest hashes a backup file, or a backup folder's manifest the way
// `find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum` does.
func backupDigest(path string) (sum string, readOnly bool, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", false, err
	}
	if !st.IsDir() {
		sum, err = FileSHA256(path)
		return sum, st.Mode().Perm()&0o222 == 0, err
	}
	var files []string
	readOnly = true
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && info.Mode().Perm()&0o200 != 0 {
			readOnly = false
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(path, p)
			files = append(files, "./"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return "", false, err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		s, err := FileSHA256(filepath.Join(path, filepath.FromSlash(f)))
		if err != nil {
			return "", false, err
		}
		fmt.Fprintf(h, "%s  %s\n", s, f)
	}
	return hex.EncodeToString(h.Sum(nil)), readOnly, nil
}

// fetchDump copies a dump from the host that holds it to the worker (the
// run's artifact folder, else the temp folder) and checks the copy is the
// dump that was recorded. done removes the copy.
func (m *MySQL) fetchDump(ctx context.Context, in VerifyBackupInput) (string, func(), error) {
	if m.Host == nil {
		return "", nil, invalid("no SSH configured on this worker to reach %s", in.Via)
	}
	dir := os.TempDir()
	if m.Artifacts != nil {
		if d, err := m.Artifacts.RunDir(ctx); err == nil {
			dir = d
		}
	}
	// What a lost try left (one try runs at a time).
	old, _ := filepath.Glob(filepath.Join(dir, "."+filepath.Base(in.Path)+".*.drill-*.tmp"))
	for _, o := range old {
		_ = os.Remove(o)
	}
	_, tag := tryTag(ctx)
	f, err := os.CreateTemp(dir, "."+filepath.Base(in.Path)+"."+tag+".drill-*.tmp")
	if err != nil {
		return "", nil, fmt.Errorf("unable to make room for a copy of %s on the worker: %w", in.Path, err)
	}
	done := func() { _ = os.Remove(f.Name()) }
	err = m.Host.stream(ctx, *in.Via, "cat -- "+shellescape.Quote(in.Path), f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		done()
		return "", nil, fmt.Errorf("unable to copy %s from %s to the worker for the restore drill: %w", in.Path, in.Via, err)
	}
	sum, err := FileSHA256(f.Name())
	if err != nil {
		done()
		return "", nil, err
	}
	if !strings.EqualFold(sum, in.SHA256) {
		done()
		return "", nil, fmt.Errorf("the copy of %s from %s has sha256 %s, not the %s recorded (a short read?); retry", in.Path, in.Via, sum, in.SHA256)
	}
	return f.Name(), done, nil
}
