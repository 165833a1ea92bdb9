package activities_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
)

// A dump is proven by restoring it (the guides' options: MariaDB's
// mysqldump writes extended inserts, several rows per statement): its tables and rows come back in a
// scratch database that is dropped after. A dump cut short (no mysqldump
// trailer) or damaged (a statement that does not parse) is refused with
// what to do, and no scratch database is left.
func TestRestoreDrillProvesADumpAndRefusesABrokenOne(t *testing.T) {
	f := newDBFixture(t)
	f.sql(t, "CREATE DATABASE drill_a")
	f.sql(t, "CREATE TABLE drill_a.t (id INT PRIMARY KEY, v VARCHAR(20))")
	f.sql(t, "INSERT INTO drill_a.t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
	f.sql(t, "CREATE TABLE drill_a.empty (id INT)")
	f.sql(t, "CREATE DATABASE drill_b")
	f.sql(t, "CREATE TABLE drill_b.u (id INT)")
	f.sql(t, "INSERT INTO drill_b.u VALUES (7), (8)")
	out := filepath.Join(t.TempDir(), "all.sql")
	val, err := f.env.ExecuteActivity(f.m.DumpMySQL, activities.DumpInput{DB: f.root, Databases: []string{"drill_a", "drill_b"}, OutPath: out})
	require.NoError(t, err)
	var dump activities.DumpResult
	require.NoError(t, val.Get(&dump))
	require.Equal(t, 3, dump.Tables)
	require.Equal(t, 5, dump.Rows)
	require.Contains(t, dump.Summary, "3 tables, 5 rows")
	require.Equal(t, "5", dump.Outputs["rows"])
	require.Contains(t, dump.Summary, dump.SHA256)

	drill := func(path, sum string) (activities.VerifyBackupResult, error) {
		var res activities.VerifyBackupResult
		val, err := f.env.ExecuteActivity(f.m.VerifyBackup, activities.VerifyBackupInput{Path: path, SHA256: sum, Drill: &f.root})
		if err == nil {
			require.NoError(t, val.Get(&res))
		}
		return res, err
	}
	res, err := drill(out, dump.SHA256)
	require.NoError(t, err)
	require.Equal(t, 3, res.Restored.Tables)
	require.Equal(t, 5, res.Restored.Rows)
	require.Contains(t, res.Summary, "backup verified: 3 tables, 5 rows, sha256 "+dump.SHA256)
	require.Contains(t, res.Summary, "the source holds the same rows")
	require.Len(t, res.Restored.Scratch, 2) // upgrader_verify_<run>_<n>, one per database
	require.Regexp(t, `^upgrader_verify_[a-z0-9]{1,12}_1$`, res.Restored.Scratch[0])
	require.Regexp(t, `^upgrader_verify_[a-z0-9]{1,12}_2$`, res.Restored.Scratch[1])
	noScratch(t, f)

	// The platform writes after the dump: reported, not failed.
	f.sql(t, "INSERT INTO drill_b.u VALUES (9)")
	res, err = drill(out, dump.SHA256)
	require.NoError(t, err)
	require.Contains(t, res.Summary, "the source has changed since the dump (rows: drill_b.u +1)")

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	// Cut short: everything before the last table's data.
	cut := filepath.Join(t.TempDir(), "cut.sql")
	require.NoError(t, os.WriteFile(cut, b[:strings.Index(string(b), "INSERT INTO `u`")], 0o444))
	sum, _ := activities.FileSHA256(cut)
	_, err = drill(cut, sum)
	app := appErr(t, err)
	require.Equal(t, activities.ErrBackupUnusable, app.Type())
	require.Contains(t, app.Message(), `does not end with mysqldump's "-- Dump completed" line`)
	require.Contains(t, app.Message(), "make a new backup: abort this run and start it again (a new run dumps again)")

	// Damaged in the middle, trailer intact.
	bad := filepath.Join(t.TempDir(), "bad.sql")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(string(b), "(2,'two')", "((2,'two')", 1)), 0o444))
	sum, _ = activities.FileSHA256(bad)
	_, err = drill(bad, sum)
	app = appErr(t, err)
	require.Equal(t, activities.ErrBackupUnusable, app.Type())
	require.Contains(t, app.Message(), "does not load into a scratch database")
	require.Contains(t, app.Message(), "ERROR 1064")
	noScratch(t, f)
}

func noScratch(t *testing.T, f *dbFixture) {
	t.Helper()
	db, err := sql.Open("mysql", f.maria.DSN("root", f.maria.RootPassword, ""))
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'upgrader\\_verify\\_%'").Scan(&n))
	require.Zero(t, n, "scratch databases left")
}
