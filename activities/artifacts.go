package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// Artifacts gives each run a folder on the worker for backups and logs, and
// keeps a journal there of every step try (started, progress, done, failed):
// the operator's audit trail, and how tests prove a finished step never ran
// again.
type Artifacts struct {
	Root string
	mu   sync.Mutex
}

// RunDir is the run's folder: <root>/<workflow ID>/<run ID>, created on use.
// The workflow ID upgrade/<guide>/<env> becomes nested folders.
func (a *Artifacts) RunDir(ctx context.Context) (string, error) {
	info := activity.GetInfo(ctx)
	dir := filepath.Join(a.Root, filepath.FromSlash(safePath(info.WorkflowExecution.ID)), safePath(info.WorkflowExecution.RunID))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("unable to create the run's artifact folder %s: %w", dir, err)
	}
	return dir, nil
}

func safePath(s string) string {
	s = strings.ReplaceAll(s, "..", "_")
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '/':
			return r
		}
		return '_'
	}, s)
}

// StepName is the runbook step an activity runs for: its activity ID
// without the "#try" suffix.
func StepName(ctx context.Context) string {
	id := activity.GetInfo(ctx).ActivityID
	if i := strings.LastIndexByte(id, '#'); i > 0 {
		return id[:i]
	}
	return id
}

// Journal appends one line to the run's journal.log:
// time, step, attempt, event, detail.
func (a *Artifacts) Journal(ctx context.Context, event, detail string) error {
	dir, err := a.RunDir(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(dir, "journal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("unable to open the run journal: %w", err)
	}
	defer f.Close()
	info := activity.GetInfo(ctx)
	_, err = fmt.Fprintf(f, "%s\t%s\t%d\t%s\t%s\n", time.Now().UTC().Format(time.RFC3339Nano),
		StepName(ctx), info.Attempt, event, strings.ReplaceAll(detail, "\n", " "))
	return err
}

// WriteFile writes data to name inside the run's folder (0600: backups hold
// passwords) and returns its path and SHA-256, which is what goes into
// history instead of the content.
func (a *Artifacts) WriteFile(ctx context.Context, name string, data []byte) (path, sum string, err error) {
	dir, err := a.RunDir(ctx)
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, filepath.FromSlash(safePath(name)))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", "", fmt.Errorf("unable to create %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", "", fmt.Errorf("unable to write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", "", fmt.Errorf("unable to write %s: %w", path, err)
	}
	h := sha256.Sum256(data)
	return path, hex.EncodeToString(h[:]), nil
}

// FileSHA256 returns the SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
