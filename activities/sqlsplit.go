package activities

import (
	"fmt"
	"strings"
)

// Statement is one SQL statement of a script and the line it starts on.
type Statement struct {
	SQL  string
	Line int
}

// SplitSQL splits a script into statements at semicolons outside quotes,
// backquotes and comments, so each can be run and reported on its own.
// DELIMITER (a mysql client command, not SQL) is refused: scripts with
// stored procedures must be run through the mysql client on a host.
func SplitSQL(script string) ([]Statement, error) {
	var (
		out   []Statement
		cur   strings.Builder
		line  = 1
		start = 0 // line where the current statement starts; 0: not started
		quote rune
	)
	rs := []rune(script)
	flush := func() {
		s := strings.TrimSpace(cur.String())
		if s != "" {
			out = append(out, Statement{SQL: s, Line: start})
		}
		cur.Reset()
		start = 0
	}
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		next := rune(0)
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		if quote != 0 {
			cur.WriteRune(c)
			if c == '\n' {
				line++
			}
			if c == '\\' && quote != '`' && next != 0 {
				cur.WriteRune(next)
				if next == '\n' {
					line++
				}
				i++
				continue
			}
			if c == quote {
				if next == quote { // doubled quote
					cur.WriteRune(next)
					i++
					continue
				}
				quote = 0
			}
			continue
		}
		switch {
		case c == '\n':
			line++
			cur.WriteRune(c)
			continue
		case c == '-' && next == '-' && (i+2 >= len(rs) || rs[i+2] == ' ' || rs[i+2] == '\t' || rs[i+2] == '\n'), c == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			if i < len(rs) {
				line++
				cur.WriteRune('\n')
			}
			continue
		case c == '/' && next == '*' && !(i+2 < len(rs) && rs[i+2] == '!'):
			i += 2
			for i+1 < len(rs) && !(rs[i] == '*' && rs[i+1] == '/') {
				if rs[i] == '\n' {
					line++
				}
				i++
			}
			i++
			cur.WriteRune(' ')
			continue
		case c == ';':
			flush()
			continue
		}
		if start == 0 && !isSpace(c) {
			start = line
			if strings.HasPrefix(strings.ToUpper(string(rs[i:min(i+10, len(rs))])), "DELIMITER ") {
				return nil, fmt.Errorf("line %d: DELIMITER is a mysql client command, not SQL; run this script with the mysql client on a host instead", line)
			}
		}
		if c == '\'' || c == '"' || c == '`' {
			quote = c
		}
		cur.WriteRune(c)
	}
	if quote != 0 {
		return nil, fmt.Errorf("line %d: unterminated %c quote", start, quote)
	}
	flush()
	return out, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
