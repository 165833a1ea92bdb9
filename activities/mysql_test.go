package activities_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/tests/lab"
)

func TestSplitSQL(t *testing.T) {
	stmts, err := activities.SplitSQL(`-- WeCube v4.0.0
CREATE TABLE a (id INT, note VARCHAR(20) DEFAULT 'x;y'); # trailing comment
/* block; comment */ INSERT INTO a VALUES (1, "it""s; fine"), (2, 'a\'b;');
/*!40101 SET NAMES utf8mb4 */;

ALTER TABLE ` + "`a;b`" + ` ADD COLUMN c INT
`)
	require.NoError(t, err)
	require.Len(t, stmts, 4)
	require.Equal(t, "CREATE TABLE a (id INT, note VARCHAR(20) DEFAULT 'x;y')", stmts[0].SQL)
	require.Equal(t, 2, stmts[0].Line)
	require.Contains(t, stmts[1].SQL, `"it""s; fine"`)
	require.Contains(t, stmts[1].SQL, `'a\'b;'`)
	require.Equal(t, 3, stmts[1].Line)
	require.Equal(t, "/*!40101 SET NAMES utf8mb4 */", stmts[2].SQL, "conditional comments are SQL")
	require.Equal(t, 6, stmts[3].Line)

	_, err = activities.SplitSQL("DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$")
	require.ErrorContains(t, err, "DELIMITER is a mysql client command")
	_, err = activities.SplitSQL("SELECT 'open")
	require.ErrorContains(t, err, "unterminated")
}

func TestAdaptDumpOptions(t *testing.T) {
	opts := []string{"--single-transaction", "--master-data=2", "--set-gtid-purged=OFF", "--column-statistics=0", "--source-data=2"}
	out, notes := activities.AdaptDumpOptions(opts, true, true)
	require.Equal(t, []string{"--single-transaction", "--master-data=2", "--master-data=2"}, out)
	require.Len(t, notes, 3)
	out, _ = activities.AdaptDumpOptions(opts, false, false)
	require.Equal(t, []string{"--single-transaction", "--set-gtid-purged=OFF", "--column-statistics=0"}, out)
}

type dbFixture struct {
	maria *lab.MariaDB
	m     *activities.MySQL
	env   *testsuite.TestActivityEnvironment
	root  activities.DBTarget
	store *config.SecretStore
}

func newDBFixture(t *testing.T) *dbFixture {
	maria := lab.StartMariaDB(t)
	store := config.NewSecretStore(map[string]config.Secret{
		"root-pw": {Value: maria.RootPassword}, "c7n-pw": {Value: "c7n-User-pw-2209"}, "wrong-pw": {Value: "not-the-password"},
	})
	m := &activities.MySQL{Secrets: store, Scrub: store, Artifacts: &activities.Artifacts{Root: t.TempDir()}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(m)
	return &dbFixture{maria: maria, m: m, env: env, store: store,
		root: activities.DBTarget{Name: "c7n-mysql", Address: maria.Addr, User: "root", PasswordRef: "root-pw"}}
}

func (f *dbFixture) sql(t *testing.T, q string) {
	t.Helper()
	db, err := sql.Open("mysql", f.maria.DSN("root", f.maria.RootPassword, ""))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(q)
	require.NoError(t, err, q)
}

func TestMySQLPreflightAndCredentials(t *testing.T) {
	f := newDBFixture(t)
	val, err := f.env.ExecuteActivity(f.m.PreflightMySQL, activities.MySQLPreflightInput{DB: f.root,
		Privileges: []string{"CREATE", "CREATE USER", "GRANT OPTION"}, RequireBinlog: true})
	require.NoError(t, err)
	var res activities.MySQLPreflightResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, "mariadb", res.Flavor)
	require.True(t, res.Binlog)

	wrong := f.root
	wrong.PasswordRef = "wrong-pw"
	_, err = f.env.ExecuteActivity(f.m.PreflightMySQL, activities.MySQLPreflightInput{DB: wrong})
	app := appErr(t, err)
	require.Equal(t, activities.ErrDBAuthFailed, app.Type())
	require.Contains(t, app.Message(), `check the user and the secret "wrong-pw"`)
	require.NotContains(t, app.Message(), "not-the-password")

	f.sql(t, "CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY 'c7n-User-pw-2209'")
	f.sql(t, "GRANT SELECT ON *.* TO 'reader'@'127.0.0.1'")
	_, err = f.env.ExecuteActivity(f.m.PreflightMySQL, activities.MySQLPreflightInput{
		DB: activities.DBTarget{Address: f.maria.Addr, User: "reader", PasswordRef: "c7n-pw"}, Privileges: []string{"SELECT", "CREATE USER"}})
	app = appErr(t, err)
	require.Equal(t, "Precondition", app.Type())
	require.Contains(t, app.Message(), "lacks CREATE USER")

	unreachable := f.root
	unreachable.Address = "127.0.0.1:1"
	_, err = f.env.ExecuteActivity(f.m.PreflightMySQL, activities.MySQLPreflightInput{DB: unreachable})
	require.ErrorContains(t, err, "unable to connect")
}

func TestEnsureDatabasesIsIdempotent(t *testing.T) {
	f := newDBFixture(t)
	in := activities.EnsureDatabasesInput{DB: f.root, User: &activities.DBUser{Name: "choerodon", PasswordRef: "c7n-pw"}}
	for _, n := range []string{"hzero_platform", "hzero_message", "hzero_file", "hzero_monitor", "hzero_admin"} {
		in.Databases = append(in.Databases, activities.DatabaseSpec{Name: n})
	}
	f.sql(t, "CREATE DATABASE hzero_admin")
	val, err := f.env.ExecuteActivity(f.m.EnsureDatabases, in)
	require.NoError(t, err)
	var res activities.EnsureDatabasesResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, []string{"hzero_platform", "hzero_message", "hzero_file", "hzero_monitor"}, res.Created)
	require.Equal(t, []string{"hzero_admin"}, res.Existed)

	// A second try (after a lost worker) runs no CREATE or GRANT again.
	writes := func() string {
		var out []string
		rows, err := sql.Open("mysql", f.maria.DSN("root", f.maria.RootPassword, ""))
		require.NoError(t, err)
		defer rows.Close()
		r, err := rows.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_create_db','Com_create_user','Com_grant')")
		require.NoError(t, err)
		defer r.Close()
		for r.Next() {
			var k, v string
			require.NoError(t, r.Scan(&k, &v))
			out = append(out, k+"="+v)
		}
		return strings.Join(out, " ")
	}
	before := writes()
	val, err = f.env.ExecuteActivity(f.m.EnsureDatabases, in)
	require.NoError(t, err)
	require.NoError(t, val.Get(&res))
	require.Empty(t, res.Created)
	require.Len(t, res.Existed, 5)
	require.Equal(t, before, writes())

	// The new user logs in with the secret's password and sees its databases.
	db, err := sql.Open("mysql", f.maria.DSN("choerodon", "c7n-User-pw-2209", "hzero_platform"))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE t (id INT)")
	require.NoError(t, err)
	var cs string
	require.NoError(t, db.QueryRow("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='hzero_file'").Scan(&cs))
	require.Equal(t, "utf8mb4", cs)

	_, err = f.env.ExecuteActivity(f.m.EnsureDatabases, activities.EnsureDatabasesInput{DB: f.root,
		Databases: []activities.DatabaseSpec{{Name: "x`; DROP DATABASE mysql; --"}}})
	require.Equal(t, "InvalidInput", appErr(t, err).Type())
}

func TestRunScriptReportsTheFailingStatementAndResumesAfterIt(t *testing.T) {
	f := newDBFixture(t)
	f.sql(t, "CREATE DATABASE wecube")
	script := `-- v4.0.0.sql
CREATE TABLE plugin (id INT PRIMARY KEY, name VARCHAR(64));
ALTER TABLE plugin ADD COLUMN version VARCHAR(32);
INSERT INTO plugin_config (plugin_id) VALUES (1);
INSERT INTO plugin VALUES (1, 'wecmdb', 'v2.0');
`
	in := activities.SQLScriptInput{DB: f.root, Database: "wecube", Name: "v4.0.0.sql", Script: script}
	// Run as the runbook does: the activity ID is the step name and try.
	try := func(n int) (activities.SQLScriptResult, error) {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		env.RegisterActivity(f.m)
		var res activities.SQLScriptResult
		env.ExecuteWorkflow(func(ctx workflow.Context) (activities.SQLScriptResult, error) {
			ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{ActivityID: fmt.Sprintf("sql/wecube#%d", n),
				StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
			var r activities.SQLScriptResult
			err := workflow.ExecuteActivity(ctx, f.m.RunScript, in).Get(ctx, &r)
			return r, err
		})
		err := env.GetWorkflowError()
		if err == nil {
			require.NoError(t, env.GetWorkflowResult(&res))
		}
		return res, err
	}
	_, err := try(1)
	app := appErr(t, err)
	require.Equal(t, activities.ErrSQLStatementFailed, app.Type())
	require.Contains(t, app.Message(), "v4.0.0.sql: statement 3 of 4 (line 4: INSERT INTO plugin_config")
	require.Contains(t, app.Message(), "statements 1-2 are applied")
	require.Contains(t, app.Message(), "doesn't exist")

	// The operator fixes the cause and retries: statements 1-2 (an ALTER
	// that cannot run twice) are not repeated.
	f.sql(t, "CREATE TABLE wecube.plugin_config (plugin_id INT)")
	res, err := try(2)
	require.NoError(t, err)
	require.Equal(t, 2, res.Skipped)
	require.Equal(t, 2, res.Statements)
	require.Contains(t, res.Summary, "2 applied by an earlier try")
}

func TestDumpOnTheWorkerAndOverSSHIsVerified(t *testing.T) {
	f := newDBFixture(t)
	for _, db := range []string{"bk_cmdb", "bkiam"} {
		f.sql(t, "CREATE DATABASE "+db)
		f.sql(t, "CREATE TABLE "+db+".t (id INT, s VARCHAR(10))")
		f.sql(t, "INSERT INTO "+db+".t VALUES (1, 'a;b')")
	}
	sshd := lab.StartSSHD(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(known, []byte(sshd.KnownHostLine+"\n"), 0o600))
	f.store = config.NewSecretStore(map[string]config.Secret{"root-pw": {Value: f.maria.RootPassword}, "key": {Value: sshd.ClientKeyPEM}})
	f.m.Secrets, f.m.Scrub = f.store, f.store
	f.m.Host = &activities.Host{Secrets: f.store, Scrub: f.store, KnownHostsFiles: []string{known}, Artifacts: f.m.Artifacts}
	mysqlHost := &activities.SSHTarget{Name: "mysql-host", Address: sshd.Addr, User: sshd.User, KeyRef: "key"}

	for _, via := range []*activities.SSHTarget{nil, mysqlHost} {
		out := filepath.Join(t.TempDir(), "dbbak", "bk_mysql_alldata.sql")
		val, err := f.env.ExecuteActivity(f.m.DumpMySQL, activities.DumpInput{DB: f.root, Via: via, OutPath: out})
		require.NoError(t, err)
		var res activities.DumpResult
		require.NoError(t, val.Get(&res))
		require.Equal(t, []string{"bk_cmdb", "bkiam"}, res.Databases, "system databases are left out, as in the guide")
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, int64(len(b)), res.Bytes)
		require.Contains(t, string(b), "CHANGE MASTER TO", "--master-data=2 kept: binlog is on")
		require.Contains(t, string(b), "'a;b'")
		require.Contains(t, res.Summary, "every CREATE DATABASE present")
		require.NotContains(t, res.Summary+strings.Join(res.Adapted, ""), f.maria.RootPassword)
	}

	_, err := f.env.ExecuteActivity(f.m.DumpMySQL, activities.DumpInput{DB: f.root, Databases: []string{"no_such_db"},
		OutPath: filepath.Join(t.TempDir(), "x.sql")})
	app := appErr(t, err)
	require.Equal(t, activities.ErrDumpFailed, app.Type())
	require.Contains(t, app.Message(), "no_such_db")
	require.NotContains(t, app.Message(), f.maria.RootPassword)
}
