package activities

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A dump's rows are the value tuples of its INSERTs, whatever mysqldump
// puts in a statement: one row (--skip-extended-insert), many (-e), one
// row a line (MariaDB 10.11's -e), a column list (--complete-insert), strings holding parentheses,
// quotes and escapes, hex blobs, and lines longer than the reader's buffer.
func TestDumpScanCountsRowsNotStatements(t *testing.T) {
	long := strings.Repeat("(x", 3<<20/2) // 3 MiB of '(' inside one string value
	dump := "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n" +
		"USE `a`;\n" +
		"CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `v` text\n);\n" +
		"INSERT INTO `t` VALUES (1,'one'),(2,'it''s (two)'),(3,'back\\\\slash \\' ) ('),(4,0x28290A);\n" +
		"INSERT INTO `t` VALUES (5,NULL);\n" +
		"INSERT INTO `t` VALUES\n(8,'a;b'),\n(9,'c\\n(d'),\n(10,'');\n" +
		"INSERT INTO `t` (`id`, `v`) VALUES (6,'(('),(7,'))');\n" +
		"CREATE TABLE `u` (`id` int);\n" +
		"INSERT INTO `u` VALUES (1,'" + long + "'),(2,'" + long + "');\n" +
		"CREATE TABLE `empty` (`id` int);\n" +
		"-- Dump completed on 2026-12-01  9:00:00\n"
	p := filepath.Join(t.TempDir(), "d.sql")
	require.NoError(t, os.WriteFile(p, []byte(dump), 0o600))
	var out bytes.Buffer
	s, err := scanDump(p, &out, func(d string) string { return "scratch_" + d })
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, s.databases)
	require.Equal(t, []string{"t", "u", "empty"}, s.tables["a"])
	require.Equal(t, map[string]int{"t": 10, "u": 2}, s.rows["a"])
	require.Equal(t, 12, s.rowCount())
	require.True(t, s.completed)
	require.Empty(t, s.incomplete([]string{"a"}, map[string]int{"a": 3}))
	require.Equal(t, strings.Replace(strings.Replace(dump, "`a` /*!40100", "`scratch_a` /*!40100", 1), "USE `a`;", "USE `scratch_a`;", 1), out.String())

	// A damaged row (a stray parenthesis) does not swallow the rest of the
	// dump: the statements after it, and the trailer, are still read.
	bad := filepath.Join(t.TempDir(), "bad.sql")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(dump, "\n(8,'a;b'),", "\n((8,'a;b'),", 1)), 0o600))
	s, err = scanDump(bad, nil, nil)
	require.NoError(t, err)
	require.True(t, s.completed)
	require.Equal(t, []string{"t", "u", "empty"}, s.tables["a"])
	require.Equal(t, 2, s.rows["a"]["u"])

	cut := filepath.Join(t.TempDir(), "cut.sql")
	require.NoError(t, os.WriteFile(cut, []byte(dump[:strings.Index(dump, "CREATE TABLE `empty`")]), 0o600))
	s, err = scanDump(cut, nil, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"it does not end with mysqldump's \"-- Dump completed\" line (cut short: a full disk, a killed mysqldump?)",
		"tables are missing: a (2 of 3 tables)"}, s.incomplete([]string{"a"}, map[string]int{"a": 3}))
}
