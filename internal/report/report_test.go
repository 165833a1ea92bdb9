package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sample() Input {
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	return Input{
		WorkflowID: "upgrade/demo/lab", RunID: "r1", StartedBy: "alice", StartedAt: at(0), EndedAt: at(400),
		GeneratedAt: at(401),
		Sections:    []Section{{ID: "1", Title: "Back up values"}, {ID: "2", Title: "Delete the old framework"}},
		Status: Status{Guide: "demo", Title: "Demo upgrade", Target: Target{Environment: "lab", From: "0.21", To: "0.22"},
			State: "completed", Steps: []Step{
				{Name: "backup-values/a", Kind: "backup", Section: "1", State: "done", Attempts: 1, StartedAt: at(1), EndedAt: at(3),
					Result: "saved", Outputs: map[string]string{"path": "/art/a.json", "sha256": "abc123", "bytes": "2048"}},
				{Name: "approve/delete", Kind: "gate", Section: "2", State: "done", StartedAt: at(3), EndedAt: at(303),
					Approval: &Answer{Action: "approve", By: "bob", Comment: "backup <checked> | ok", At: at(303)}},
				{Name: "delete/a", Kind: "helm", Section: "2", State: "done", Attempts: 2, StartedAt: at(303), EndedAt: at(400), WorkerLost: 1,
					Decisions: []Answer{{Action: "retry", By: "carol", At: at(350)}},
					Outputs:   map[string]string{"path.x": "/art/x.json", "sha256.x": "def456"}},
				{Name: "verify/never", Kind: "check", State: "not-run"},
			}},
	}
}

func TestMarkdownHoldsEverythingAnOperatorAsksFor(t *testing.T) {
	md := Markdown(sample())
	for _, want := range []string{
		"# Demo upgrade: 0.21 → 0.22 on lab",
		"| started by | alice |",
		"| took | 6m40s |",
		"| 1 | §1 Back up values | `backup-values/a` | backup | done | 1 | 01:00:01 | 2s |",
		"| 2 | §2 Delete the old framework | `approve/delete` | gate | done | 0 | 01:00:03 | 5m0s | approve by bob: backup <checked> \\| ok |",
		"retry by carol; worker lost 1×, a new try started by itself each time",
		"| `backup-values/a` | `/art/a.json` | 2048 | `abc123` |  |",
		"| `delete/a` | `/art/x.json` |  | `def456` |  |",
		"| `approve/delete` | 5m0s |  |",
		"| `delete/a` |  | 1m37s |",
		"| 4 |  | `verify/never` | check | not-run | 0 |",
	} {
		require.Contains(t, md, want)
	}
}

func TestHTMLIsSelfContainedWithOneBarPerStartedStep(t *testing.T) {
	h, err := HTML(sample())
	require.NoError(t, err)
	h2 := strings.ReplaceAll(h, `xmlns="http://www.w3.org/2000/svg"`, "")
	require.NotContains(t, h2, "http://", "nothing loaded from elsewhere (the SVG namespace aside)")
	require.NotContains(t, h2, "https://")
	require.NotContains(t, h, "<script")
	require.Contains(t, h, "backup &lt;checked&gt; | ok", "answers are escaped")
	require.Equal(t, 1, strings.Count(h, `class="wait"`), "the gate's wait is its own bar")
	require.Equal(t, 2, strings.Count(h, `class="work"`))
	require.Contains(t, h, `data-step="approve/delete"`)
	require.Contains(t, h, "approve/delete waited at its gate 5m0s")

	dir := t.TempDir()
	md, html, err := Write(filepath.Join(dir, "r"), sample())
	require.NoError(t, err)
	for _, p := range []string{md, html} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
}

// A backup's row carries its size and what its restore drill found.
func TestBackupsShowTheirRestoreDrill(t *testing.T) {
	in := sample()
	in.Status.Steps = []Step{
		{Name: "backup-db/mysql", Kind: "backup", State: "done", Outputs: map[string]string{"path": "/art/all.sql", "sha256": "abc123", "bytes": "2048"}},
		{Name: "verify-restore/mysql", Kind: "check", State: "done", Result: "backup verified: 2 tables, 5 rows, sha256 abc123 (2048 bytes)"},
		{Name: "delete/mysql", Kind: "helm", State: "done", Outputs: map[string]string{"path": "/art/x.json", "sha256": "def456"}},
	}
	require.Equal(t, []Backup{
		{Step: "backup-db/mysql", Path: "/art/all.sql", SHA256: "abc123", Bytes: "2048",
			Proof: "verify-restore/mysql done: backup verified: 2 tables, 5 rows, sha256 abc123 (2048 bytes)"},
		{Step: "delete/mysql", Path: "/art/x.json", SHA256: "def456"},
	}, in.Backups())
	require.Contains(t, Markdown(in), "| `backup-db/mysql` | `/art/all.sql` | 2048 | `abc123` | verify-restore/mysql done: backup verified: 2 tables, 5 rows, sha256 abc123 (2048 bytes) |")
}
