package activities

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// dumpScan is what a mysqldump file holds, read line by line: the
// databases it creates, the tables of each, the rows of each table (the
// value tuples of its INSERT statements: one per statement with
// --skip-extended-insert, many with extended inserts, which MariaDB's
// mysqldump writes even under --skip-opt when -e is given), and whether it ends
// with mysqldump's "-- Dump completed" trailer, which a dump cut short
// (a full disk, a killed mysqldump, a truncated copy) lacks.
type dumpScan struct {
	databases []string
	tables    map[string][]string       // database → tables, in dump order
	rows      map[string]map[string]int // database → table → rows (value tuples)
	completed bool
}

var (
	useRe         = regexp.MustCompile("^USE `([^`]+)`;")
	createTableRe = regexp.MustCompile("^CREATE TABLE `([^`]+)`")
	insertRe      = regexp.MustCompile("^INSERT INTO `([^`]+)`")
)

// dumpCompleted is the first line of mysqldump's trailer (client/mysqldump.c,
// write_footer: "-- Dump completed on <date>"; MariaDB's and MySQL's alike,
// unless --skip-comments).
const dumpCompleted = "-- Dump completed"

func (s *dumpScan) tableCount() int {
	n := 0
	for _, ts := range s.tables {
		n += len(ts)
	}
	return n
}

func (s *dumpScan) rowCount() int {
	n := 0
	for _, ts := range s.rows {
		for _, r := range ts {
			n += r
		}
	}
	return n
}

// scanDump reads a dump; when out is set, it also writes the dump there
// with every database renamed by rename (CREATE DATABASE and USE lines):
// the restore drill's stream.
func scanDump(path string, out io.Writer, rename func(string) string) (*dumpScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &dumpScan{tables: map[string][]string{}, rows: map[string]map[string]int{}}
	r := bufio.NewReaderSize(f, 1<<20)
	cur := ""
	last := ""
	var tuples *valueTuples // the INSERT being read, across a long line's chunks
	for {
		line, err := r.ReadSlice('\n')
		full := err != bufio.ErrBufferFull
		if len(bytes.TrimSpace(line)) > 0 {
			last = ""
		}
		if tuples != nil && !bytes.HasPrefix(line, []byte("(")) {
			// A row line starts with '('; anything else after an INSERT that
			// did not end well (a damaged dump) is the next statement.
			tuples = nil
		}
		switch {
		case tuples != nil:
			// The rows of an INSERT that goes on over lines (MariaDB's
			// mysqldump: "INSERT INTO `t` VALUES\n(1,'a'),\n(2,'b');").
			tuples.feed(line)
		case bytes.HasPrefix(line, []byte("CREATE DATABASE")):
			if m := createDBRe.FindSubmatch(line); m != nil {
				cur = string(m[1])
				s.databases = append(s.databases, cur)
				if out != nil {
					line = bytes.Replace(line, []byte("`"+cur+"`"), []byte("`"+rename(cur)+"`"), 1)
				}
			}
		case bytes.HasPrefix(line, []byte("USE `")):
			if m := useRe.FindSubmatch(line); m != nil {
				cur = string(m[1])
				if out != nil {
					line = []byte("USE `" + rename(cur) + "`;\n")
				}
			}
		case bytes.HasPrefix(line, []byte("CREATE TABLE `")):
			if m := createTableRe.FindSubmatch(line); m != nil {
				s.tables[cur] = append(s.tables[cur], string(m[1]))
			}
		case bytes.HasPrefix(line, []byte("INSERT INTO `")):
			if m := insertRe.FindSubmatch(line); m != nil {
				if s.rows[cur] == nil {
					s.rows[cur] = map[string]int{}
				}
				tuples = &valueTuples{rows: s.rows[cur], table: string(m[1])}
				rest := line[len(m[0]):]
				if i := bytes.Index(rest, []byte(") VALUES")); i >= 0 { // --complete-insert's column list
					rest = rest[i+1:]
				}
				if i := bytes.Index(rest, []byte("VALUES")); i >= 0 {
					tuples.feed(rest[i+len("VALUES"):])
				}
			}
		case bytes.HasPrefix(line, []byte(dumpCompleted)):
			last = dumpCompleted
		}
		if out != nil {
			if _, werr := out.Write(line); werr != nil {
				return s, werr
			}
		}
		// A long INSERT line: pass the rest of it through.
		for !full {
			line, err = r.ReadSlice('\n')
			full = err != bufio.ErrBufferFull
			if tuples != nil {
				tuples.feed(line)
			}
			if out != nil {
				if _, werr := out.Write(line); werr != nil {
					return s, werr
				}
			}
		}
		if tuples != nil && tuples.done {
			tuples = nil
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, err
		}
	}
	s.completed = last == dumpCompleted
	return s, nil
}

// incomplete says what is wrong with a dump of dbs, holding want tables
// per database (the source's count when the dump started); empty: nothing.
func (s *dumpScan) incomplete(dbs []string, want map[string]int) []string {
	var problems []string
	if !s.completed {
		problems = append(problems, "it does not end with mysqldump's \"-- Dump completed\" line (cut short: a full disk, a killed mysqldump?)")
	}
	have := map[string]bool{}
	for _, d := range s.databases {
		have[d] = true
	}
	var missing, short []string
	for _, d := range dbs {
		if !have[d] {
			missing = append(missing, d)
			continue
		}
		if n := len(s.tables[d]); n < want[d] {
			short = append(short, fmt.Sprintf("%s (%d of %d tables)", d, n, want[d]))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("it has no CREATE DATABASE for %s", strings.Join(missing, ", ")))
	}
	if len(short) > 0 {
		sort.Strings(short)
		problems = append(problems, "tables are missing: "+strings.Join(short, ", "))
	}
	return problems
}

// valueTuples counts the rows of one INSERT statement as mysqldump writes
// it: VALUES (…),(…),…; on one line or one row a line — a '(' at depth 0
// outside a quoted string starts a row, a ';' there ends the statement. Strings are '…' with backslash escapes (a doubled quote under
// NO_BACKSLASH_ESCAPES, which reads the same here); binary data is 0x… with
// --hex-blob or an escaped string. The state survives a line read in
// chunks.
type valueTuples struct {
	rows  map[string]int
	table string
	depth int
	str   bool
	esc   bool
	done  bool // the statement's ';' was read
}

func (v *valueTuples) feed(b []byte) {
	for _, c := range b {
		switch {
		case v.esc:
			v.esc = false
		case v.str:
			switch c {
			case '\\':
				v.esc = true
			case '\'':
				v.str = false
			}
		case c == '\'':
			v.str = true
		case c == '(':
			if v.depth == 0 {
				v.rows[v.table]++
			}
			v.depth++
		case c == ')':
			if v.depth > 0 {
				v.depth--
			}
		case c == ';' && v.depth == 0:
			v.done = true
			return
		}
	}
}
