package activities

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// SQLScriptInput runs a script (DDL files such as WeCube's v4.0.0.sql).
type SQLScriptInput struct {
	DB       DBTarget `json:"db"`
	Database string   `json:"database,omitempty"`
	// Name names the script in messages (the file it came from).
	Name   string `json:"name"`
	Script string `json:"script,omitempty"`
	// ScriptPath, instead of Script, names a file on the worker holding the
	// script (a vendor's DDL file the site provides: WeCube's v4.0.0.sql is
	// 39 KB, kept out of history); ScriptSHA256 is required with it, and a
	// file that does not match is never run.
	ScriptPath   string `json:"scriptPath,omitempty"`
	ScriptSHA256 string `json:"scriptSHA256,omitempty"`
}

// SQLScriptResult counts what ran.
type SQLScriptResult struct {
	contract.Outcome
	Statements int `json:"statements"`
	Skipped    int `json:"skipped"` // applied by an earlier try of this step
	// Replayed counts the session statements (USE, SET) of the skipped part
	// run again on this try's connection before it went on.
	Replayed int `json:"replayed,omitempty"`
}

// SQLProgress is how far a script got: what RunScript's heartbeats carry,
// so that a try on another worker resumes where a lost one stopped, and
// what the step's journal file on the worker keeps as evidence.
type SQLProgress struct {
	// Script is the SHA-256 of the script: progress of another text does not count.
	Script string `json:"script"`
	// Done is how many statements, in order, are applied.
	Done int `json:"done"`
	// Session holds the statements among the applied ones that set session
	// state (USE, SET …), in order: a new connection replays them before
	// the next statement, so it runs in the same database with the same
	// settings (FOREIGN_KEY_CHECKS=0, sql_mode, names).
	Session []string `json:"session,omitempty"`
	// Running is the statement (1-based) in flight when this was recorded,
	// and ConnID the server thread running it: a later try kills that
	// thread if it still runs, so two tries never run statements at once.
	Running int   `json:"running,omitempty"`
	ConnID  int64 `json:"connId,omitempty"`
}

// A statement can run for minutes (an ALTER of a big table); the try
// heartbeats from a ticker while it runs, and a dead worker is noticed
// within 20 s instead of at the 10-minute limit.
var _ = contract.Declare((*MySQL).RunScript, contract.Options{Heartbeat: 20 * time.Second})

// RunScript runs the script one statement at a time on one connection, so
// USE and SET statements hold for the statements after them. DDL cannot be
// rolled back, so before each statement (which one, on which server thread)
// and after it (statements done, the session statements so far) the
// progress is sent to Temporal as heartbeat details at once (not batched):
// a try that starts after a lost one, on any worker, stops the statement
// the lost try left running, replays the session statements, then continues
// with the first statement not done; if that is the lost try's statement
// and it finished, its "already exists" error counts it as applied
// (alreadyApplied). A failing statement is reported by number, line and text; an
// operator's retry resumes at it (from the step's journal on the worker, as
// a new try of the step carries no heartbeat details).
func (m *MySQL) RunScript(ctx context.Context, in SQLScriptInput) (SQLScriptResult, error) {
	if in.ScriptPath != "" {
		script, err := readScriptFile(in.ScriptPath, in.ScriptSHA256)
		if err != nil {
			return SQLScriptResult{}, err
		}
		in.Script = script
	}
	stmts, err := SplitSQL(in.Script)
	if err != nil {
		return SQLScriptResult{}, invalid("script %s: %v", in.Name, err)
	}
	if len(stmts) == 0 {
		return SQLScriptResult{}, invalid("script %s holds no statement", in.Name)
	}
	sum := sha256.Sum256([]byte(in.Script))
	prog, prior := m.resumeScript(ctx, hex.EncodeToString(sum[:]))
	if prog.Done > len(stmts) {
		prog = SQLProgress{Script: prog.Script}
	}
	skipped := prog.Done

	db, err := m.open(ctx, in.DB, in.Database)
	if err != nil {
		return SQLScriptResult{}, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return SQLScriptResult{}, m.classify(in.DB, "connect", err)
	}
	defer conn.Close()
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&prog.ConnID); err != nil {
		return SQLScriptResult{}, m.classify(in.DB, "read the connection id on", err)
	}
	var notes []string
	if prior.Running > 0 && prior.ConnID != 0 {
		note, err := m.stopStaleStatement(ctx, conn, in, prior)
		if err != nil {
			return SQLScriptResult{}, err
		}
		notes = append(notes, note)
	}
	for _, s := range prog.Session {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return SQLScriptResult{}, m.scriptFailed(in, fmt.Sprintf("replaying session statement `%s` of an earlier try", oneLine(s)), prog, err)
		}
	}
	journal := m.scriptJournal(ctx)
	var p Progress
	for i := prog.Done; i < len(stmts); i++ {
		st := stmts[i]
		prog.Running = i + 1
		p.Set(prog)
		// "About to run statement i+1 on this connection" reaches Temporal
		// before the statement does: a try after a lost one then knows the
		// statement may have run (and on which server thread), where batched
		// details could still say only "i done".
		if err := m.recordProgress(ctx, prog); err != nil {
			return SQLScriptResult{}, fmt.Errorf("%s: statement %d of %d was not started: its start could not be recorded in Temporal (%v); the next try resumes here",
				in.Name, i+1, len(stmts), err)
		}
		sent := true // false: the lost try's statement finished, and is not sent again
		if i+1 == prior.Running {
			// The lost try's statement: if what it makes is there, it
			// finished, and is not sent again.
			there, known, err := effectThere(ctx, conn, st.SQL)
			if err != nil {
				return SQLScriptResult{}, m.classify(in.DB, fmt.Sprintf("look for what statement %d makes on", i+1), err)
			}
			if known && there {
				notes = append(notes, fmt.Sprintf("statement %d was in flight when the earlier try was lost and what it makes is there: "+
					"counted as applied by that try, not sent again", i+1))
				sent = false
			}
		}
		if sent {
			if err := m.sendStatement(ctx, conn, &p, in, stmts, i, prior, prog, &notes); err != nil {
				return SQLScriptResult{}, err
			}
		}
		if isSessionStatement(st.SQL) {
			prog.Session = append(prog.Session, st.SQL)
		}
		prog.Done, prog.Running = i+1, 0
		journal(prog)
		p.Set(prog)
		if err := m.recordProgress(ctx, prog); err != nil {
			elsewhere := "repeats it on another"
			if !sent {
				elsewhere = "looks for it again on another"
			}
			return SQLScriptResult{}, fmt.Errorf("%s: statement %d of %d is applied, but its progress could not be recorded in Temporal (%v); "+
				"the next try resumes after it on this worker (journal), or %s", in.Name, i+1, len(stmts), err, elsewhere)
		}
	}
	res := SQLScriptResult{Statements: len(stmts) - skipped, Skipped: skipped}
	res.Summary = fmt.Sprintf("%s: %d statements applied on %s", in.Name, len(stmts)-skipped, in.DB)
	if skipped > 0 {
		res.Replayed = len(prog.Session) - countSession(stmts[skipped:])
		res.Summary += fmt.Sprintf(" (%d applied by an earlier try; %d session statements replayed first)", skipped, res.Replayed)
	}
	if len(notes) > 0 {
		res.Summary += "; " + strings.Join(notes, "; ")
	}
	return res, nil
}

// sendStatement runs statement i, heartbeating while it blocks. The lost
// try's statement (prior.Running) that fails only because what it makes is
// there counts as applied by that try.
func (m *MySQL) sendStatement(ctx context.Context, conn *sql.Conn, p *Progress, in SQLScriptInput, stmts []Statement, i int,
	prior, prog SQLProgress, notes *[]string) error {
	st := stmts[i]
	err := whileHeartbeating(ctx, p, func(ctx context.Context) error {
		_, err := conn.ExecContext(ctx, st.SQL)
		return err
	})
	if err != nil && i+1 == prior.Running && alreadyApplied(err) {
		// The lost try's statement ran to its end: what it makes is there.
		*notes = append(*notes, fmt.Sprintf("statement %d was in flight when the earlier try was lost and its effect is there (%v): counted as applied by that try",
			i+1, err))
		return nil
	}
	if err != nil {
		prog.Running = 0
		return m.scriptFailed(in, fmt.Sprintf("statement %d of %d (line %d: %s)", i+1, len(stmts), st.Line, oneLine(st.SQL)), prog, err)
	}
	return nil
}

// alreadyApplied says whether a statement failed only because what it
// makes is already there: the table, database, column, index or foreign
// key it creates exists, what it drops is gone, the row it inserts is
// present. Asked only of the statement a lost try had in flight, whose
// outcome no one recorded: DDL commits by itself and cannot be undone, so
// running it again gives exactly these errors when the lost try's run
// finished on the server. An INSERT into a table without a unique key gives
// none, and runs twice: the guides' DDL scripts hold no such statement.
func alreadyApplied(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1007, // ER_DB_CREATE_EXISTS: CREATE DATABASE
		1008, // ER_DB_DROP_EXISTS: DROP DATABASE
		1050, // ER_TABLE_EXISTS_ERROR: CREATE TABLE, RENAME TABLE
		1051, // ER_BAD_TABLE_ERROR: DROP TABLE
		1060, // ER_DUP_FIELDNAME: ADD COLUMN
		1061, // ER_DUP_KEYNAME: ADD INDEX, CREATE INDEX
		1062, // ER_DUP_ENTRY: INSERT of a row with a unique key
		1091, // ER_CANT_DROP_FIELD_OR_KEY: DROP COLUMN, DROP INDEX
		1826: // ER_FK_DUP_NAME: ADD FOREIGN KEY
		return true
	}
	return false
}

func countSession(stmts []Statement) int {
	n := 0
	for _, s := range stmts {
		if isSessionStatement(s.SQL) {
			n++
		}
	}
	return n
}

// scriptFailed words a failure: which statement, what is applied, what to
// do. SQL errors go to the operator; connection trouble is retried (the
// next try resumes). The progress rides along as the failure's details.
func (m *MySQL) scriptFailed(in SQLScriptInput, what string, prog SQLProgress, err error) error {
	msg := fmt.Sprintf("%s: %s failed on %s: %v; ", in.Name, what, in.DB, err)
	if prog.Done > 0 {
		msg += fmt.Sprintf("statements 1-%d are applied and stay applied", prog.Done)
	} else {
		msg += "no statement is applied"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return temporal.NewNonRetryableApplicationError(m.scrub(msg+"; fix the cause, then retry (it resumes at this statement) or skip"), ErrSQLStatementFailed, nil, prog)
	}
	return temporal.NewApplicationError(m.scrub(msg+"; the next try resumes here"), "SQLConnectionLost", prog)
}

// stopStaleStatement handles a statement an earlier, lost try had in
// flight: if its server thread still runs, it is killed (an InnoDB
// statement rolls back) and waited for, so it never runs beside this try.
func (m *MySQL) stopStaleStatement(ctx context.Context, conn *sql.Conn, in SQLScriptInput, prior SQLProgress) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	killed := false
	for {
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", prior.ConnID).Scan(&n); err != nil {
			return "", m.classify(in.DB, "look for the earlier try's connection on", err)
		}
		if n == 0 {
			break
		}
		if !killed {
			if _, err := conn.ExecContext(ctx, fmt.Sprintf("KILL %d", prior.ConnID)); err != nil {
				var me *mysql.MySQLError
				if !errors.As(err, &me) || me.Number != 1094 { // 1094: no such thread (it just ended)
					return "", m.classify(in.DB, fmt.Sprintf("kill connection %d of the earlier try (still running statement %d) on", prior.ConnID, prior.Running), err)
				}
			}
			killed = true
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s: connection %d of the earlier try still runs statement %d on %s 30 s after KILL; wait for it, then retry",
				in.Name, prior.ConnID, prior.Running, in.DB)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if killed {
		return fmt.Sprintf("statement %d was still running for the lost try (connection %d): killed, then run again", prior.Running, prior.ConnID), nil
	}
	return fmt.Sprintf("statement %d was in flight when the earlier try was lost; it ran again", prior.Running), nil
}

// recordProgress sends the progress to Temporal before the next statement
// starts. activity.RecordHeartbeat batches (it may hold details back for
// most of a heartbeat timeout), so a worker killed right after a statement
// would leave older progress and the statement would run twice; with
// SyncProgress the client call records it synchronously. The batched call
// still follows, so a batch in flight never carries older details.
func (m *MySQL) recordProgress(ctx context.Context, v any) error {
	if !activity.IsActivity(ctx) {
		return nil
	}
	info := activity.GetInfo(ctx)
	var err error
	if c := activity.GetClient(ctx); m.SyncProgress && c != nil && len(info.TaskToken) > 0 {
		for try := 0; try < 3; try++ {
			if err = c.RecordActivityHeartbeat(ctx, info.TaskToken, v); err == nil || ctx.Err() != nil {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	activity.RecordHeartbeat(ctx, v)
	return err
}

// resumeScript finds how far an earlier try of this step got with this
// script: the heartbeat details of a lost try (any worker), or the step's
// journal on this worker (an operator's retry is a new activity with no
// details); the one further on wins, both record only applied statements.
func (m *MySQL) resumeScript(ctx context.Context, scriptSum string) (cur, prior SQLProgress) {
	cur = SQLProgress{Script: scriptSum}
	var hb SQLProgress
	if priorProgress(ctx, &hb) && hb.Script == scriptSum {
		prior = hb
		cur.Done, cur.Session = hb.Done, hb.Session
	}
	if p := m.scriptJournalPath(ctx); p != "" {
		var j SQLProgress
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &j) == nil && j.Script == scriptSum && j.Done > cur.Done {
			cur.Done, cur.Session = j.Done, j.Session
		}
	}
	return cur, prior
}

func (m *MySQL) scriptJournalPath(ctx context.Context) string {
	if m.Artifacts == nil || !activity.IsActivity(ctx) {
		return ""
	}
	dir, err := m.Artifacts.RunDir(ctx)
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "sql", safePath(StepName(ctx))+".applied")
}

// scriptJournal returns a function that records progress in the step's
// journal file (replaced atomically).
func (m *MySQL) scriptJournal(ctx context.Context) func(SQLProgress) {
	p := m.scriptJournalPath(ctx)
	if p == "" {
		return func(SQLProgress) {}
	}
	_ = os.MkdirAll(filepath.Dir(p), 0o700)
	return func(prog SQLProgress) {
		prog.ConnID, prog.Running = 0, 0
		b, _ := json.Marshal(prog)
		if os.WriteFile(p+".tmp", append(b, '\n'), 0o600) == nil {
			_ = os.Rename(p+".tmp", p)
		}
	}
}

var (
	conditionalComment = regexp.MustCompile(`^/\*!\d*\s*([\s\S]*?)\s*\*/$`)
	sessionStatement   = regexp.MustCompile(`(?i)^(USE\s|SET\s)`)
	notSessionSet      = regexp.MustCompile(`(?i)^SET\s+(GLOBAL\s|PERSIST\s|PERSIST_ONLY\s|@@GLOBAL\.|@@PERSIST|PASSWORD\b|DEFAULT\s+ROLE\b)`)
)

// isSessionStatement reports whether a statement sets state of the
// connection (USE db, SET FOREIGN_KEY_CHECKS=0, SET NAMES, SET @v = …,
// also inside /*!40101 … */) that later statements depend on; SET GLOBAL
// and SET PASSWORD change the server, not the session, and are not replayed.
func isSessionStatement(s string) bool {
	s = strings.TrimSpace(s)
	if m := conditionalComment.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	return sessionStatement.MatchString(s) && !notSessionSet.MatchString(s)
}

// readScriptFile reads a script file on the worker and checks its SHA-256.
func readScriptFile(path, want string) (string, error) {
	if len(want) != 64 {
		return "", invalid("script %s: give its sha256 (64 hex digits) with the path", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("cannot read the script %s on the worker: %v", path, err), contract.ErrPrecondition, nil)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, want) {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("script %s has sha256 %s, the config says %s: not the file meant; nothing was run", path, got, want), ErrChecksumMismatch, nil)
	}
	return string(b), nil
}
