package integration_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

// brokenMysqldump is a mysqldump that runs the real one and spoils its
// output with filter (a shell pipeline stage), as a full disk or a damaged
// copy would.
func brokenMysqldump(t *testing.T, filter string) string {
	real, err := lookPath("mysqldump")
	require.NoError(t, err)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mysqldump"), fmt.Sprintf(`#!/bin/bash
case "$1" in --version) exec %[1]s --version ;; esac
set -o pipefail
%[1]s "$@" | %[2]s
`, real, filter))
	require.NoError(t, os.Chmod(filepath.Join(dir, "mysqldump"), 0o755))
	return dir
}

// A broken dump pauses the run before anything is destroyed: one cut short
// (no mysqldump trailer) at the dump itself, one damaged in the middle with
// its trailer intact at its restore drill (it does not load into the
// scratch database). Either way nothing is deleted, the gate before the
// deletes is never asked, and no scratch database is left.
func TestBrokenDumpPausesTheRunBeforeAnyDelete(t *testing.T) {
	l := newC7nLab(t)
	require.NoError(t, l.site.PackageC7N021(nil, 0))
	db := l.sql(t)
	for _, c := range []struct {
		env, filter, step, err string
	}{
		{"cut", "head -c -300", "backup-db/mysql", `does not end with mysqldump's "-- Dump completed" line`},
		{"damaged", `sed '0,/^INSERT INTO /s//INSERT INTO INTO /'`, "verify-restore/mysql", "does not load into a scratch database"},
	} {
		ns := "c7n-" + c.env
		// Every release the guide upgrades: preflight/releases refuses a site without them.
		require.NoError(t, l.site.SeedC7N021(ns, db, true))
		w := startWorker(t, l.workerCfg, "PATH="+brokenMysqldump(t, c.filter)+":"+os.Getenv("PATH"))
		id := runbook.WorkflowID("choerodon-0.21-0.22", c.env)
		mustStarter(t, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", c7n021Config(t, l, c.env, ns))
		eventually(t, 2*time.Minute, c.env+": the run to pause at "+c.step, func() bool {
			st := status(t, id)
			return st.State == runbook.RunFailedAwaiting && st.CurrentStep == c.step
		})
		st := status(t, id)
		require.Contains(t, st.Step(c.step).LastError, c.err, c.env)
		require.Contains(t, st.Step(c.step).LastError, "do not go on", c.env)
		require.Equal(t, runbook.StepPending, st.Step("approve/delete-old-releases").State, c.env)
		require.Equal(t, runbook.StepPending, st.Step("delete-release/base-service").State, c.env)
		require.Equal(t, 1, l.revisions(t, ns, "base-service"), "%s: nothing deleted", c.env)
		require.Empty(t, queryStrings(t, db, "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'upgrader\\_verify\\_%'"),
			"%s: no scratch database left", c.env)
		if c.step == "verify-restore/mysql" {
			// The drill's writes are told apart from the site's (the kill sweep subtracts them).
			sw := scratchWrites(t, db)
			require.Positive(t, sw["sql Com_drop_db"], "%v", sw)
			require.Positive(t, sw["sql Com_create_db"], "%v", sw)
			require.Positive(t, sw["sql Com_create_table"], "%v", sw)
		}
		mustStarter(t, l.workerCfg, "decide", id, c.step, "abort", "--comment", "the backup is broken; checking the disk")
		w.kill(t)
	}
}

// scratchWrites counts, by the counter sqlWrites reads, the statements the
// binary log holds for restore drills' scratch databases
// (upgrader_verify_*): a drill retried after a lost worker loads its dump
// again, which the kill sweep must not take for the run writing to the
// site twice. MariaDB logs each of those statements as one Query event
// (binlog_format MIXED, the lab's default) naming the database.
func scratchWrites(t testing.TB, db *sql.DB) map[string]int {
	out := map[string]int{}
	logs, err := db.Query("SHOW BINARY LOGS")
	require.NoError(t, err)
	var files []string
	cols, _ := logs.Columns()
	for logs.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		require.NoError(t, logs.Scan(vals...))
		files = append(files, name)
	}
	logs.Close()
	kinds := []struct{ prefix, counter string }{
		{"CREATE DATABASE", "Com_create_db"}, {"DROP DATABASE", "Com_drop_db"}, {"CREATE TABLE", "Com_create_table"},
		{"DROP TABLE", "Com_drop_table"}, {"ALTER TABLE", "Com_alter_table"}, {"INSERT", "Com_insert"},
		{"REPLACE", "Com_replace"}, {"UPDATE", "Com_update"}, {"DELETE", "Com_delete"},
	}
	for _, f := range files {
		rows, err := db.Query("SHOW BINLOG EVENTS IN '" + f + "'")
		require.NoError(t, err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			// Log_name, Pos, Event_type, Server_id, End_log_pos, Info
			if string(vals[2]) != "Query" || !strings.Contains(string(vals[5]), "upgrader_verify_") {
				continue
			}
			// "use `db`; set foreign_key_checks=0, unique_checks=0; CREATE TABLE …":
			// MariaDB puts the session's database and changed flags first.
			info := strings.TrimSpace(string(vals[5]))
			for {
				l := strings.ToLower(info)
				i := strings.Index(info, "; ")
				if i < 0 || !(strings.HasPrefix(l, "use `") || strings.HasPrefix(l, "set ")) {
					break
				}
				info = strings.TrimSpace(info[i+2:])
			}
			// mysqldump's versioned comments ("/*!40000 ALTER TABLE `t` DISABLE
			// KEYS */") run as the statement inside them.
			if rest, ok := strings.CutPrefix(info, "/*!"); ok {
				info = strings.TrimSpace(strings.TrimLeft(rest, "0123456789"))
			}
			info = strings.ToUpper(info)
			for _, k := range kinds {
				if strings.HasPrefix(info, k.prefix) {
					out["sql "+k.counter]++
					break
				}
			}
		}
		rows.Close()
	}
	return out
}
