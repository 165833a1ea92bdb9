package activities_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"upgrader/activities"
)

func TestSessionStatementsAreTheOnesThatSetConnectionState(t *testing.T) {
	for s, want := range map[string]bool{
		"USE shop":                           true,
		"use `shop`":                         true,
		"SET FOREIGN_KEY_CHECKS=0":           true,
		"SET NAMES utf8mb4":                  true,
		"/*!40101 SET NAMES utf8mb4 */":      true,
		"SET @old_sql_mode = @@sql_mode":     true,
		"SET SESSION sql_mode = ''":          true,
		"SET GLOBAL max_connections = 500":   false,
		"SET @@GLOBAL.read_only = 1":         false,
		"SET PASSWORD FOR x = PASSWORD('y')": false,
		"INSERT INTO settings VALUES (1)":    false,
		"UPDATE t SET a = 1":                 false,
		"CREATE TABLE used (id INT)":         false,
	} {
		require.Equal(t, want, activities.IsSessionStatement(s), s)
	}
}

// scriptEnv is one worker's view of RunScript: its own MySQL (no journal:
// only heartbeat details cross from one worker to the next) and its own
// activity environment, which records the heartbeats the try sends.
type scriptEnv struct {
	m    *activities.MySQL
	env  *testsuite.TestActivityEnvironment
	last converter.EncodedValues
}

func newScriptEnv(f *dbFixture) *scriptEnv {
	w := &scriptEnv{m: &activities.MySQL{Secrets: f.store, Scrub: f.store}}
	var s testsuite.WorkflowTestSuite
	w.env = s.NewTestActivityEnvironment()
	w.env.RegisterActivity(w.m)
	w.env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) { w.last = details })
	return w
}

// A script with USE, SET FOREIGN_KEY_CHECKS=0 and 20 inserts stops half-way
// (statement 13 cannot run yet); a try on another worker, given only the
// first try's heartbeat details, replays USE and SET, then runs the rest:
// each insert exactly once, in the script's database (not the connection's
// default), and the insert that breaks a foreign key passes because
// FOREIGN_KEY_CHECKS=0 holds on the new connection too.
func TestRunScriptResumesOnAnotherWorkerFromHeartbeatDetails(t *testing.T) {
	f := newDBFixture(t)
	for _, q := range []string{"CREATE DATABASE shop", "CREATE DATABASE other",
		"CREATE TABLE shop.parent (id INT PRIMARY KEY) ENGINE=InnoDB",
		"CREATE TABLE shop.item (id INT, parent_id INT, FOREIGN KEY (parent_id) REFERENCES shop.parent(id)) ENGINE=InnoDB",
		"CREATE TABLE shop.t (n INT) ENGINE=InnoDB", "CREATE TABLE other.t (n INT) ENGINE=InnoDB"} {
		f.sql(t, q)
	}
	var b strings.Builder
	b.WriteString("USE shop;\nSET FOREIGN_KEY_CHECKS=0;\n")
	for i := 1; i <= 20; i++ {
		if i == 11 {
			b.WriteString("INSERT INTO t SELECT 11 FROM gate;\n") // gate does not exist yet
			b.WriteString("INSERT INTO item VALUES (1, 999);\n")  // parent 999 does not exist
			continue
		}
		fmt.Fprintf(&b, "INSERT INTO t VALUES (%d);\n", i)
	}
	in := activities.SQLScriptInput{DB: f.root, Database: "other", Name: "v4.0.0.sql", Script: b.String()}

	first := newScriptEnv(f)
	_, err := first.env.ExecuteActivity(first.m.RunScript, in)
	app := appErr(t, err)
	require.Equal(t, activities.ErrSQLStatementFailed, app.Type())
	require.Contains(t, app.Message(), "statement 13 of 23")
	require.NotNil(t, first.last, "the first try heartbeated its progress")
	var prog activities.SQLProgress
	require.NoError(t, first.last.Get(&prog))
	require.Equal(t, 12, prog.Done)
	require.Equal(t, []string{"USE shop", "SET FOREIGN_KEY_CHECKS=0"}, prog.Session)
	var failed activities.SQLProgress
	require.NoError(t, app.Details(&failed), "the failure carries the progress too")
	require.Equal(t, 12, failed.Done)

	f.sql(t, "CREATE TABLE shop.gate (x INT)")
	f.sql(t, "INSERT INTO shop.gate VALUES (1)")
	second := newScriptEnv(f)
	second.env.SetHeartbeatDetails(prog)
	val, err := second.env.ExecuteActivity(second.m.RunScript, in)
	require.NoError(t, err)
	var res activities.SQLScriptResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, 12, res.Skipped)
	require.Equal(t, 11, res.Statements)
	require.Equal(t, 2, res.Replayed)
	require.Contains(t, res.Summary, "12 applied by an earlier try; 2 session statements replayed first")

	db, err := sql.Open("mysql", f.maria.DSN("root", f.maria.RootPassword, ""))
	require.NoError(t, err)
	defer db.Close()
	var rows, distinct, lo, hi, other, items int
	require.NoError(t, db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT n), MIN(n), MAX(n) FROM shop.t").Scan(&rows, &distinct, &lo, &hi))
	require.Equal(t, []int{20, 20, 1, 20}, []int{rows, distinct, lo, hi}, "every insert ran exactly once")
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM other.t").Scan(&other))
	require.Zero(t, other, "nothing ran in the connection's default database")
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM shop.item WHERE parent_id = 999").Scan(&items))
	require.Equal(t, 1, items, "FOREIGN_KEY_CHECKS=0 was replayed")
}

// A statement the lost try still has running on the server is killed
// before the new try runs it, so two tries never run statements at once.
func TestRunScriptKillsTheStatementALostTryLeftRunning(t *testing.T) {
	f := newDBFixture(t)
	f.sql(t, "CREATE DATABASE shop")
	f.sql(t, "CREATE TABLE shop.t (n INT)")
	script := "USE shop;\nINSERT INTO t VALUES (1);\nDO SLEEP(0.1);\nINSERT INTO t VALUES (2);\n"
	sum := sha256.Sum256([]byte(script))

	// The lost try's connection, still running its statement 3.
	stale, err := sql.Open("mysql", f.maria.DSN("root", f.maria.RootPassword, "shop"))
	require.NoError(t, err)
	defer stale.Close()
	stale.SetMaxOpenConns(1)
	var id int64
	require.NoError(t, stale.QueryRow("SELECT CONNECTION_ID()").Scan(&id))
	ended := make(chan error, 1)
	go func() { _, err := stale.Exec("DO SLEEP(60)"); ended <- err }()
	require.Eventually(t, func() bool {
		var n int
		_ = stale.Stats()
		db, _ := sql.Open("mysql", f.maria.DSN("root", f.maria.RootPassword, ""))
		defer db.Close()
		return db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE 'DO SLEEP%'", id).Scan(&n) == nil && n == 1
	}, 10*time.Second, 50*time.Millisecond)

	w := newScriptEnv(f)
	w.env.SetHeartbeatDetails(activities.SQLProgress{Script: hex.EncodeToString(sum[:]), Done: 2,
		Session: []string{"USE shop"}, Running: 3, ConnID: id})
	val, err := w.env.ExecuteActivity(w.m.RunScript, activities.SQLScriptInput{DB: f.root, Name: "s.sql", Script: script})
	require.NoError(t, err)
	var res activities.SQLScriptResult
	require.NoError(t, val.Get(&res))
	require.Error(t, <-ended, "the lost try's statement was killed")
	require.Contains(t, res.Summary, fmt.Sprintf("statement 3 was still running for the lost try (connection %d): killed, then run again", id))
	require.Equal(t, 2, res.Statements)
}

// The statement a lost try had in flight (it recorded "running statement 2"
// before sending it) ran to its end on the server: run again, it finds its
// table there, and the new try counts it as applied by the lost one and goes
// on. The same error on a statement no lost try had in flight still stops
// the step (what the WeCube kill sweep found: CREATE TABLE proc_def_collect,
// statement 8 of v4.0.0.sql, "already exists" on the next try).
func TestRunScriptCountsTheLostTrysFinishedStatement(t *testing.T) {
	f := newDBFixture(t)
	f.sql(t, "CREATE DATABASE shop")
	script := "USE shop;\nCREATE TABLE made (id INT PRIMARY KEY);\nINSERT INTO made VALUES (1);\n"
	sum := sha256.Sum256([]byte(script))
	f.sql(t, "CREATE TABLE shop.made (id INT PRIMARY KEY)") // the lost try's statement 2, finished

	before := f.createTables(t)
	w := newScriptEnv(f)
	w.env.SetHeartbeatDetails(activities.SQLProgress{Script: hex.EncodeToString(sum[:]), Done: 1,
		Session: []string{"USE shop"}, Running: 2, ConnID: 987654321})
	val, err := w.env.ExecuteActivity(w.m.RunScript, activities.SQLScriptInput{DB: f.root, Name: "s.sql", Script: script})
	require.NoError(t, err)
	var res activities.SQLScriptResult
	require.NoError(t, val.Get(&res))
	require.Contains(t, res.Summary, "statement 2 was in flight when the earlier try was lost and what it makes is there: "+
		"counted as applied by that try, not sent again")
	require.Equal(t, 2, res.Statements)
	require.Equal(t, before, f.createTables(t), "CREATE TABLE was not sent again")

	// A form effectThere does not know (CREATE VIEW): sent again, and its
	// "already exists" counts it as the lost try's.
	view := "USE shop;\nCREATE VIEW v AS SELECT id FROM made;\nINSERT INTO made VALUES (2);\n"
	vsum := sha256.Sum256([]byte(view))
	f.sql(t, "CREATE VIEW shop.v AS SELECT id FROM shop.made")
	w = newScriptEnv(f)
	w.env.SetHeartbeatDetails(activities.SQLProgress{Script: hex.EncodeToString(vsum[:]), Done: 1,
		Session: []string{"USE shop"}, Running: 2, ConnID: 987654321})
	val, err = w.env.ExecuteActivity(w.m.RunScript, activities.SQLScriptInput{DB: f.root, Name: "v.sql", Script: view})
	require.NoError(t, err)
	require.NoError(t, val.Get(&res))
	require.Contains(t, res.Summary, "statement 2 was in flight when the earlier try was lost and its effect is there")

	// No lost try: the same script on a site where the table already is stops at it.
	f.sql(t, "CREATE DATABASE shop2")
	f.sql(t, "CREATE TABLE shop2.made (id INT PRIMARY KEY)")
	again := newScriptEnv(f)
	_, err = again.env.ExecuteActivity(again.m.RunScript, activities.SQLScriptInput{DB: f.root, Name: "s.sql",
		Script: strings.ReplaceAll(script, "USE shop;", "USE shop2;")})
	app := appErr(t, err)
	require.Equal(t, activities.ErrSQLStatementFailed, app.Type())
	require.Contains(t, app.Message(), "statement 2 of 3")
}

// createTables is the server's count of CREATE TABLE statements received.
func (f *dbFixture) createTables(t *testing.T) int {
	t.Helper()
	db, err := sql.Open("mysql", f.maria.DSN("root", f.maria.RootPassword, ""))
	require.NoError(t, err)
	defer db.Close()
	var k string
	var n int
	require.NoError(t, db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_create_table'").Scan(&k, &n))
	return n
}

// effectThere's forms, on the WeCube scripts' statements.
func TestRunScriptFindsWhatALostStatementMade(t *testing.T) {
	f := newDBFixture(t)
	for _, q := range []string{"CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, name VARCHAR(8))",
		"CREATE INDEX idx_name ON shop.t (name)", "ALTER TABLE shop.t ADD COLUMN `updated_time` datetime",
		"ALTER TABLE shop.t ADD CONSTRAINT name_unique UNIQUE (`name`)"} {
		f.sql(t, q)
	}
	for _, c := range []struct {
		stmt  string
		there bool
	}{
		{"CREATE TABLE `t` (\n `id` int)", true},
		{"CREATE TABLE IF NOT EXISTS shop.other (id int)", false},
		{"CREATE INDEX idx_name ON t (name)", true},
		{"create index idx_other on `shop`.`t` (name)", false},
		{"alter table t add column `updated_time` datetime DEFAULT NULL COMMENT '更新时间-新'", true},
		{"alter table t add publish_status varchar(64) default 'published' not null after name", false},
		{"alter table t add constraint name_unique unique (`name`)", true},
		{"CREATE DATABASE IF NOT EXISTS shop", true},
	} {
		got, known := activities.EffectThere(t, f.maria.DSN("root", f.maria.RootPassword, "shop"), c.stmt)
		require.True(t, known, c.stmt)
		require.Equal(t, c.there, got, c.stmt)
	}
	_, known := activities.EffectThere(t, f.maria.DSN("root", f.maria.RootPassword, "shop"), "INSERT INTO t VALUES (1, 'a')")
	require.False(t, known)
}
