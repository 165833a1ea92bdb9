package activities

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
)

// An identifier as DDL scripts write it: bare or in backquotes; with an
// optional schema before a dot.
const (
	sqlIdent     = "(?:`([^`]+)`|([A-Za-z0-9_$]+))"
	sqlQualified = "(?:" + sqlIdent + `\s*\.\s*)?` + sqlIdent
)

var (
	reCreateTable = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?` + sqlQualified)
	reCreateIndex = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?` +
		sqlIdent + `\s+ON\s+` + sqlQualified)
	reAddConstraint = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+` + sqlQualified + `\s+ADD\s+CONSTRAINT\s+` + sqlIdent)
	reAddColumn     = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+` + sqlQualified + `\s+ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?` + sqlIdent)
	reCreateDB      = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+NOT\s+EXISTS\s+)?` + sqlIdent)
)

// addNotColumn are the words after ADD that start something other than a column.
var addNotColumn = map[string]bool{"INDEX": true, "KEY": true, "UNIQUE": true, "PRIMARY": true, "CONSTRAINT": true, "FOREIGN": true,
	"FULLTEXT": true, "SPATIAL": true, "PARTITION": true, "CHECK": true, "PERIOD": true, "SYSTEM": true, "IF": true}

// ident picks an identifier out of a match: group i is the backquoted
// form, i+1 the bare one.
func ident(m []string, i int) string {
	if m[i] != "" {
		return m[i]
	}
	return m[i+1]
}

// effectThere looks, without running it, for what a DDL statement makes: the
// table of a CREATE TABLE, the index of a CREATE INDEX, the first column of
// an ALTER TABLE … ADD COLUMN (an ALTER applies all its clauses or none), the
// constraint of an ALTER TABLE … ADD CONSTRAINT, the database of a CREATE
// DATABASE. known is false for any other statement. It is asked of the
// statement a lost try had in flight: when what it makes is there, that try's
// statement finished and is not sent again (the server's statement counters
// then say each statement ran once). Names without a schema are looked up in
// the connection's current database (after the session statements replayed).
func effectThere(ctx context.Context, conn *sql.Conn, stmt string) (there, known bool, err error) {
	var q string
	var args []any
	schema := func(m []string, i int) any {
		if s := ident(m, i); s != "" {
			return s
		}
		return nil
	}
	switch m := reCreateTable.FindStringSubmatch(stmt); {
	case m != nil:
		q, args = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
			[]any{schema(m, 1), ident(m, 3)}
	default:
		if m := reCreateIndex.FindStringSubmatch(stmt); m != nil {
			q, args = "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND INDEX_NAME = ?",
				[]any{schema(m, 3), ident(m, 5), ident(m, 1)}
		} else if m := reAddConstraint.FindStringSubmatch(stmt); m != nil {
			q, args = "SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND CONSTRAINT_NAME = ?",
				[]any{schema(m, 1), ident(m, 3), ident(m, 5)}
		} else if m := reAddColumn.FindStringSubmatch(stmt); m != nil && (m[5] != "" || !addNotColumn[strings.ToUpper(m[6])]) {
			q, args = "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND COLUMN_NAME = ?",
				[]any{schema(m, 1), ident(m, 3), ident(m, 5)}
		} else if m := reCreateDB.FindStringSubmatch(stmt); m != nil {
			q, args = "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", []any{ident(m, 1)}
		} else {
			return false, false, nil
		}
	}
	var n int
	if err := conn.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return false, true, err
	}
	return n > 0, true, nil
}
