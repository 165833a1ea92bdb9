package integration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
)

// A script with USE, SET FOREIGN_KEY_CHECKS=0 and 20 inserts runs on a
// worker process that is SIGKILLed half-way; another worker process (its
// own artifact folder: no shared disk) resumes from the heartbeat details
// in Temporal: it replays USE and SET, then runs the statements not done.
// Every insert ran exactly once, in the script's database, and the insert
// after the kill that breaks a foreign key passed because
// FOREIGN_KEY_CHECKS=0 was replayed.
func TestSQLScriptResumesOnAnotherWorkerAfterAKill(t *testing.T) {
	l := newDBLab(t, "sql-resume")
	l.exec(t, "CREATE DATABASE shop", "CREATE DATABASE other",
		"CREATE TABLE shop.parent (id INT PRIMARY KEY) ENGINE=InnoDB",
		"CREATE TABLE shop.item (id INT, parent_id INT, FOREIGN KEY (parent_id) REFERENCES shop.parent(id)) ENGINE=InnoDB",
		"CREATE TABLE shop.t (n INT) ENGINE=InnoDB", "CREATE TABLE other.t (n INT) ENGINE=InnoDB")
	var b strings.Builder
	b.WriteString("USE shop;\nSET FOREIGN_KEY_CHECKS=0;\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "INSERT INTO t VALUES (%d);\n", i)
		if i == 15 {
			b.WriteString("INSERT INTO item VALUES (1, 999);\n") // no parent 999
		}
		b.WriteString("DO SLEEP(0.4);\n") // the script's own pace: a kill lands between inserts
	}
	first := l.worker(t, "w1")
	run := l.startStep(t, "sql-resume", stepCall{ActivityID: "sql/shop#1", Heartbeat: 5 * time.Second,
		Script: &activities.SQLScriptInput{DB: l.target(), Database: "other", Name: "shop.sql", Script: b.String()}})

	eventually(t, time.Minute, "10 rows", func() bool { return l.ints(t, "SELECT COUNT(*) FROM shop.t")[0] >= 10 })
	first.kill(t)
	killed := time.Now()
	atKill := l.ints(t, "SELECT COUNT(*) FROM shop.t")[0]
	require.Less(t, atKill, 15, "killed before the foreign-key insert")
	l.worker(t, "w2")

	out := waitStep(t, run, 2*time.Minute)
	t.Logf("killed after %d inserts; resumed and finished %s after the kill: %s", atKill, time.Since(killed).Round(100*time.Millisecond), out.Script.Summary)
	require.Equal(t, int32(2), activityAttempt(t, run), "the second worker's try finished it")
	require.GreaterOrEqual(t, out.Script.Skipped, 2+2*atKill-1, "the second try skipped what the first applied")
	require.Equal(t, 2, out.Script.Replayed)
	require.Contains(t, out.Script.Summary, "2 session statements replayed first")

	require.Equal(t, []int{20, 20, 1, 20}, l.ints(t, "SELECT COUNT(*), COUNT(DISTINCT n), MIN(n), MAX(n) FROM shop.t"), "every insert ran exactly once")
	require.Equal(t, []int{0}, l.ints(t, "SELECT COUNT(*) FROM other.t"), "nothing ran in the connection's default database")
	require.Equal(t, []int{1}, l.ints(t, "SELECT COUNT(*) FROM shop.item WHERE parent_id = 999"), "FOREIGN_KEY_CHECKS=0 was replayed")
}
