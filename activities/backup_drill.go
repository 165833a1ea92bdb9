package activities

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// ErrBackupUnusable: a backup does not restore, or restores other data
// than it holds.
const ErrBackupUnusable = "BackupUnusable"

// RestoreDrill is what loading a dump into scratch databases showed.
type RestoreDrill struct {
	Scratch []string `json:"scratch"` // the scratch databases (dropped)
	Tables  int      `json:"tables"`
	Rows    int      `json:"rows"`
	// SourceRows is the source databases' row count after the drill;
	// SourceNote says how it differs (the platform may write after the dump).
	SourceRows int    `json:"sourceRows"`
	SourceNote string `json:"sourceNote"`
}

// drill loads a mysqldump file into scratch databases on the same server,
// one per database in the dump (upgrader_verify_<run>_<n>: CREATE DATABASE
// and USE lines renamed on the way), with the mysql client on the worker,
// then compares: every table of the dump exists in the restore, and every
// table holds at least as many rows as the dump has INSERTs for it (one per
// row with the guides' --skip-opt). The scratch databases are dropped
// before and after, whatever happens. The source is counted too: a
// difference there (the platform still writes until its services stop) is
// reported, not failed.
func (m *MySQL) drill(ctx context.Context, in VerifyBackupInput) (*RestoreDrill, error) {
	t := *in.Drill
	prefix := "upgrader_verify_local"
	if activity.IsActivity(ctx) {
		run := strings.ReplaceAll(activity.GetInfo(ctx).WorkflowExecution.RunID, "-", "")
		prefix = "upgrader_verify_" + run[:min(12, len(run))]
	}
	pre, err := scanDump(in.Path, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("unable to read the dump %s: %w", in.Path, err)
	}
	if problems := pre.incomplete(pre.databases, nil); len(problems) > 0 {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump %s is not a complete backup: %s; do not go on: make a new backup: abort this run and start it again (a new run dumps again)", in.Path, strings.Join(problems, "; ")), ErrBackupUnusable, nil)
	}
	if len(pre.databases) == 0 {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump %s creates no database (made without -B?); the restore drill cannot place it: do not go on", in.Path), ErrBackupUnusable, nil)
	}
	scratch := map[string]string{}
	var names []string
	for i, d := range pre.databases {
		scratch[d] = fmt.Sprintf("%s_%d", prefix, i+1)
		names = append(names, scratch[d])
	}
	db, err := m.open(ctx, t, "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	drop := func(ctx context.Context) error {
		for _, n := range names {
			if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+n+"`"); err != nil {
				return m.classify(t, "drop the scratch database "+n+" on", err)
			}
		}
		return nil
	}
	if err := drop(ctx); err != nil {
		return nil, err
	}
	defer func() {
		// Dropped even when the try is cancelled: a fresh, bounded context.
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = drop(c)
	}()
	if err := m.load(ctx, t, in.Path, func(d string) string { return scratch[d] }); err != nil {
		return nil, err
	}
	res := &RestoreDrill{Scratch: names}
	var problems, drift []string
	for _, d := range pre.databases {
		got, err := tableRows(ctx, db, scratch[d])
		if err != nil {
			return nil, m.classify(t, "count the restored rows on", err)
		}
		src, err := tableRows(ctx, db, d)
		if err != nil {
			return nil, m.classify(t, "count the source rows on", err)
		}
		for _, table := range pre.tables[d] {
			n, ok := got[table]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s.%s is in the dump but not in the restore", d, table))
				continue
			}
			res.Tables++
			res.Rows += n
			if want := pre.rows[d][table]; n < want {
				problems = append(problems, fmt.Sprintf("%s.%s restored %d rows of the dump's %d", d, table, n, want))
			}
			res.SourceRows += src[table]
			if src[table] != n {
				drift = append(drift, fmt.Sprintf("%s.%s %+d", d, table, src[table]-n))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump %s does not restore what it holds: %s; do not go on: make a new backup: abort this run and start it again (a new run dumps again)", in.Path, strings.Join(problems, "; ")),
			ErrBackupUnusable, nil, res)
	}
	res.SourceNote = "the source holds the same rows"
	if len(drift) > 0 {
		sort.Strings(drift)
		res.SourceNote = fmt.Sprintf("the source has changed since the dump (rows: %s): services still write; the dump is what was there when it ran",
			strings.Join(drift[:min(10, len(drift))], ", "))
	}
	return res, nil
}

// load streams the dump, databases renamed, into the mysql client on the
// worker. The password goes through a pipe, never argv or disk.
func (m *MySQL) load(ctx context.Context, t DBTarget, path string, rename func(string) string) error {
	pw, err := m.password(t)
	if err != nil {
		return err
	}
	host, port, _ := strings.Cut(t.Address, ":")
	if port == "" {
		port = "3306"
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := localCommand(ctx, "mysql", "--defaults-extra-file=/dev/fd/3", "--binary-mode", "--batch")
	cmd.ExtraFiles = []*os.File{r}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		r.Close()
		w.Close()
		return err
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("unable to start the mysql client on the worker for the restore drill: %w", err)
	}
	r.Close()
	fmt.Fprintf(w, "[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\n",
		optionFileValue(t.User), optionFileValue(pw), optionFileValue(host), optionFileValue(port))
	w.Close()
	_, scanErr := scanDump(path, stdin, rename)
	stdin.Close()
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if waitErr != nil {
		return temporal.NewNonRetryableApplicationError(m.scrub(fmt.Sprintf(
			"the dump %s does not load into a scratch database on %s: %v: %s; do not go on: the backup is damaged; make a new one: abort this run and start it again (a new run dumps again)",
			path, t, waitErr, captureTail(strings.TrimSpace(out.String()), 5))), ErrBackupUnusable, nil)
	}
	if scanErr != nil && scanErr != io.ErrClosedPipe {
		return fmt.Errorf("unable to stream %s to the mysql client: %w", path, scanErr)
	}
	return nil
}

// tableRows counts the rows of every base table of a database.
func tableRows(ctx context.Context, db *sql.DB, database string) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'", database)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]int{}
	for _, table := range tables {
		var n int
		q := "SELECT COUNT(*) FROM `" + strings.ReplaceAll(database, "`", "``") + "`.`" + strings.ReplaceAll(table, "`", "``") + "`"
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return nil, err
		}
		out[table] = n
	}
	return out, nil
}
