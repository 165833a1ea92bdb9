package activities

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// DumpInput backs up databases with mysqldump.
type DumpInput struct {
	DB DBTarget `json:"db"`
	// Databases to dump; empty dumps every database but the system ones
	// (the guide's ignore list).
	Databases []string `json:"databases,omitempty"`
	// Via runs mysqldump on this host over SSH; nil runs it on the worker.
	Via *SSHTarget `json:"via,omitempty"`
	// OutPath is the dump file on the host that runs mysqldump; empty, on
	// the worker, means the run's artifact folder.
	OutPath string `json:"outPath"`
	// Options are mysqldump options as the guide gives them; those the
	// client or server cannot take are adapted (see AdaptDumpOptions).
	Options []string `json:"options,omitempty"`
}

// DumpResult describes a verified dump.
type DumpResult struct {
	contract.Outcome
	Path      string   `json:"path"`
	Bytes     int64    `json:"bytes"`
	SHA256    string   `json:"sha256"`
	Databases []string `json:"databases"`
	Adapted   []string `json:"adapted,omitempty"` // what was changed in the options, and why
	// Tables and Rows the dump holds (CREATE TABLE statements; the value
	// tuples of its INSERTs, -1 when not counted).
	Tables int `json:"tables"`
	Rows   int `json:"rows"`
}

// GuideDumpOptions are BlueKing's mysqldump options.
var GuideDumpOptions = []string{"--skip-opt", "--create-options", "--default-character-set=utf8mb4", "-R", "-E", "-q", "-e",
	"--single-transaction", "--no-autocommit", "--master-data=2", "--max-allowed-packet=1G", "--hex-blob"}

// SystemDatabases are never dumped unless named (the guide's ignore list).
var SystemDatabases = []string{"information_schema", "mysql", "test", "db_infobase", "performance_schema", "sys"}

// AdaptDumpOptions fits options to the mysqldump at hand and the server:
// MariaDB's client has no --set-gtid-purged, --column-statistics or
// --source-data (it says --master-data); MySQL 8's says --source-data; and
// --master-data/--source-data need binary logging on the server.
func AdaptDumpOptions(opts []string, clientIsMariaDB, binlog bool) (out, notes []string) {
	for _, o := range opts {
		name := strings.SplitN(o, "=", 2)[0]
		switch {
		case (name == "--master-data" || name == "--source-data") && !binlog:
			notes = append(notes, "dropped "+o+": binary logging is off on the server")
			continue
		case clientIsMariaDB && (name == "--set-gtid-purged" || name == "--column-statistics" || name == "--skip-column-statistics"):
			notes = append(notes, "dropped "+o+": MariaDB's mysqldump does not know it")
			continue
		case clientIsMariaDB && name == "--source-data":
			o = strings.Replace(o, "--source-data", "--master-data", 1)
			notes = append(notes, "--source-data is --master-data in MariaDB's mysqldump")
		}
		out = append(out, o)
	}
	return out, notes
}

// dumpProgress is what DumpMySQL's heartbeats carry.
type dumpProgress struct {
	Stage string `json:"stage"`
	Tmp   string `json:"tmp,omitempty"`
}

// A dump of a real platform database takes minutes: the try heartbeats from
// a ticker while mysqldump runs, so it may run as long as it needs, and a
// dead worker is noticed within 20 s (its mysqldump died with it).
var _ = contract.Declare((*MySQL).DumpMySQL, contract.Options{Heartbeat: 20 * time.Second})

// DumpMySQL runs mysqldump and then checks that the file holds a CREATE
// DATABASE for every database it should: a backup that is not verified
// does not count, and the destructive steps after it stay blocked. Each try
// writes its own temp file and only the try holding the destination's lock
// moves it into place; the result's SHA-256 is of the final, read-only file
// (VerifyBackup checks it again before a destructive step).
func (m *MySQL) DumpMySQL(ctx context.Context, in DumpInput) (DumpResult, error) {
	var res DumpResult
	var p Progress
	err := whileHeartbeating(ctx, &p, func(ctx context.Context) error {
		var err error
		res, err = m.dump(ctx, in, &p)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("the dump to %s was stopped (%v); the next try starts it again: %w", in.OutPath, err, ctx.Err())
		}
		return err
	})
	return res, err
}

func (m *MySQL) dump(ctx context.Context, in DumpInput, p *Progress) (DumpResult, error) {
	if in.OutPath == "" && in.Via == nil && m.Artifacts != nil {
		dir, err := m.Artifacts.RunDir(ctx)
		if err != nil {
			return DumpResult{}, err
		}
		in.OutPath = filepath.Join(dir, "mysql", safePath(StepName(ctx))+".sql")
	}
	if !filepath.IsAbs(in.OutPath) {
		return DumpResult{}, invalid("outPath %q must be absolute", in.OutPath)
	}
	p.Set(dumpProgress{Stage: "preflight"})
	pre, err := m.preflight(ctx, MySQLPreflightInput{DB: in.DB})
	if err != nil {
		return DumpResult{}, err
	}
	dbs := in.Databases
	if len(dbs) == 0 {
		if dbs, err = m.userDatabases(ctx, in.DB); err != nil {
			return DumpResult{}, err
		}
		if len(dbs) == 0 {
			return DumpResult{}, temporal.NewNonRetryableApplicationError("no database to back up on "+in.DB.String(), contract.ErrPrecondition, nil)
		}
	}
	for _, d := range dbs {
		if !identRe.MatchString(d) {
			return DumpResult{}, invalid("database name %q", d)
		}
	}
	want, err := m.baseTables(ctx, in.DB, dbs)
	if err != nil {
		return DumpResult{}, err
	}
	opts := in.Options
	if opts == nil {
		opts = GuideDumpOptions
	}
	// Which mysqldump will run? Ask it, on the host that runs it.
	ver, err := m.capture(ctx, in.Via, "mysqldump --version", nil)
	if err != nil {
		return DumpResult{}, fmt.Errorf("mysqldump is not usable on %s: %w", where(in.Via), err)
	}
	opts, notes := AdaptDumpOptions(opts, strings.Contains(strings.ToLower(ver), "mariadb"), pre.Binlog)

	var out dumpOutcome
	if in.Via == nil {
		out, err = m.dumpLocal(ctx, in, opts, dbs, want, p)
	} else {
		out, err = m.dumpRemote(ctx, in, opts, dbs, p)
	}
	res := DumpResult{Path: in.OutPath, Databases: dbs, Adapted: notes, Bytes: out.bytes, SHA256: out.sha256, Tables: out.tables, Rows: out.rows}
	if err != nil {
		return res, err
	}
	if len(out.missing) > 0 {
		out.problems = append([]string{"it has no CREATE DATABASE for " + strings.Join(out.missing, ", ")}, out.problems...)
	}
	if len(out.problems) > 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump of %s on %s is not a complete backup: %s; it was not put in place at %s; do not go on: check the disk and mysqldump's log, then retry this step",
			in.DB, where(in.Via), strings.Join(out.problems, "; "), in.OutPath), ErrDumpIncomplete, nil, res)
	}
	res.Summary = fmt.Sprintf("%d databases, %d tables%s dumped to %s on %s (%d bytes, sha256 %s, read-only); complete: every CREATE DATABASE present, every table, and mysqldump's trailer",
		len(dbs), res.Tables, rowsNote(res.Rows), in.OutPath, where(in.Via), res.Bytes, res.SHA256)
	if len(notes) > 0 {
		res.Summary += "; " + strings.Join(notes, "; ")
	}
	// What VerifyBackup re-checks right before the first destructive step.
	res.Outputs = map[string]string{"path": res.Path, "sha256": res.SHA256, "bytes": strconv.FormatInt(res.Bytes, 10),
		"tables": strconv.Itoa(res.Tables)}
	if res.Rows >= 0 {
		res.Outputs["rows"] = strconv.Itoa(res.Rows)
	}
	return res, nil
}

type dumpOutcome struct {
	bytes    int64
	sha256   string
	tables   int
	rows     int      // -1: unknown (a remote dump)
	missing  []string // what a remote dump lacks (databases, collections)
	problems []string
}

func rowsNote(rows int) string {
	if rows < 0 {
		return ""
	}
	return fmt.Sprintf(", %d rows", rows)
}

// baseTables counts the base tables of each database (what mysqldump
// writes a CREATE TABLE for) when the dump starts.
func (m *MySQL) baseTables(ctx context.Context, t DBTarget, dbs []string) (map[string]int, error) {
	db, err := m.open(ctx, t, "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT table_schema, COUNT(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' GROUP BY table_schema")
	if err != nil {
		return nil, m.classify(t, "count the tables on", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var d string
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		out[d] = n
	}
	return out, rows.Err()
}

var createDBRe = regexp.MustCompile("^CREATE DATABASE (?:/\\*!32312 IF NOT EXISTS\\*/ |IF NOT EXISTS )?`([^`]+)`")

// optionFileValue quotes a value for a MySQL option file.
func optionFileValue(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

// dumpLocal runs mysqldump on the worker (localCommand: it dies with the
// worker and with the try) into this try's own temp file, checks it, and
// moves it into place under the destination's lock. The password reaches
// mysqldump through a pipe (--defaults-extra-file=/dev/fd/3): never in
// argv, never in a file on disk.
func (m *MySQL) dumpLocal(ctx context.Context, in DumpInput, opts, dbs []string, want map[string]int, p *Progress) (dumpOutcome, error) {
	pw, err := m.password(in.DB)
	if err != nil {
		return dumpOutcome{}, err
	}
	host, port, _ := strings.Cut(in.DB.Address, ":")
	if port == "" {
		port = "3306"
	}
	p.Set(dumpProgress{Stage: "waiting for the lock on " + in.OutPath})
	t, err := claimBackup(ctx, in.OutPath)
	if err != nil {
		return dumpOutcome{}, err
	}
	defer t.release()
	p.Set(dumpProgress{Stage: "dumping", Tmp: t.Tmp})

	r, w, err := os.Pipe()
	if err != nil {
		return dumpOutcome{}, err
	}
	args := append([]string{"--defaults-extra-file=/dev/fd/3"}, opts...)
	args = append(append(args, "-B"), dbs...)
	cmd := localCommand(ctx, "mysqldump", args...)
	cmd.ExtraFiles = []*os.File{r}
	cmd.Stdout = t.File()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return dumpOutcome{}, fmt.Errorf("unable to start mysqldump on the worker: %w", err)
	}
	r.Close()
	fmt.Fprintf(w, "[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\n",
		optionFileValue(in.DB.User), optionFileValue(pw), optionFileValue(host), optionFileValue(port))
	w.Close()
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return dumpOutcome{}, ctx.Err()
		}
		return dumpOutcome{}, temporal.NewNonRetryableApplicationError(m.scrub(fmt.Sprintf(
			"mysqldump of %v from %s on the worker failed: %v: %s", dbs, in.DB, err, captureTail(strings.TrimSpace(stderr.String()), 10))), ErrDumpFailed, nil)
	}
	p.Set(dumpProgress{Stage: "checking", Tmp: t.Tmp})
	scan, err := scanDump(t.Tmp, nil, nil)
	if err != nil {
		return dumpOutcome{}, err
	}
	out := dumpOutcome{problems: scan.incomplete(dbs, want), tables: scan.tableCount(), rows: scan.rowCount()}
	if len(out.problems) > 0 {
		return out, nil
	}
	p.Set(dumpProgress{Stage: "moving into place"})
	out.bytes, out.sha256, err = t.commit()
	return out, err
}

// dumpRemote runs the same protocol on a host over SSH, in one sh script:
// flock on <out>.lock held by the script and its mysqldump for their whole
// life; a lock held by an earlier try of this same step (a lost worker or
// SSH session leaves it running) is taken over by killing that try's
// process group; another holder is reported, not touched. The dump goes to
// this try's own temp file (noclobber), is checked for every CREATE
// DATABASE, moved into place, made read-only and hashed there.
func (m *MySQL) dumpRemote(ctx context.Context, in DumpInput, opts, dbs []string, p *Progress) (dumpOutcome, error) {
	host, port, _ := strings.Cut(in.DB.Address, ":")
	if port == "" {
		port = "3306"
	}
	step, tag := tryTag(ctx)
	dir, base := filepath.Dir(in.OutPath), filepath.Base(in.OutPath)
	tmp := filepath.Join(dir, "."+base+"."+tag+".tmp")
	p.Set(dumpProgress{Stage: "dumping on " + in.Via.String(), Tmp: tmp})
	q := shellescape.Quote
	script := remoteBackupPrologue(in.OutPath, step, tag) + fmt.Sprintf(`
pw=$(printf '%%s' "$UPGRADER_DB_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')
tmp=%s
set -C
mysqldump --defaults-extra-file=/dev/fd/3 %s -B %s 3<<UPGRADER_EOF > "$tmp"
[client]
user=%s
password="$pw"
host=%s
port=%s
UPGRADER_EOF
set +C
missing=
for d in %s; do
  grep -aq "^CREATE DATABASE .*`+"`"+`$d`+"`"+`" "$tmp" || missing="$missing $d"
done
if [ -n "$missing" ]; then echo "UPGRADER-MISSING$missing"; rm -f "$tmp"; exit 0; fi
if ! tail -n 3 "$tmp" | grep -aq '^-- Dump completed'; then echo "UPGRADER-TRUNCATED"; rm -f "$tmp"; exit 0; fi
echo "UPGRADER-TABLES $(grep -ac '^CREATE TABLE [^ ]' "$tmp" || true)"
mv -f "$tmp" "$out"
chmod 0444 "$out"
echo "UPGRADER-BYTES $(wc -c < "$out")"
echo "UPGRADER-SHA256 $(sha256sum "$out" | cut -d' ' -f1)"
`, q(tmp), QuoteArgs(opts), QuoteArgs(dbs), optionFileValue(in.DB.User), optionFileValue(host), optionFileValue(port), QuoteArgs(dbs))
	secretEnv := map[string]string{}
	if in.DB.PasswordRef != "" {
		secretEnv["UPGRADER_DB_PASSWORD"] = in.DB.PasswordRef
	}
	text, err := m.capture(ctx, in.Via, script, secretEnv)
	if err != nil {
		if ctx.Err() != nil {
			return dumpOutcome{}, ctx.Err()
		}
		if strings.Contains(text, "UPGRADER-LOCKED") {
			return dumpOutcome{}, fmt.Errorf("%s on %s is being written by another dump (%s); wait for it, then retry",
				in.OutPath, in.Via, strings.TrimSpace(afterMarker(text, "UPGRADER-LOCKED")))
		}
		return dumpOutcome{}, temporal.NewNonRetryableApplicationError(m.scrub(fmt.Sprintf(
			"mysqldump of %v from %s on %s failed: %v", dbs, in.DB, in.Via, err)), ErrDumpFailed, nil)
	}
	return parseRemoteBackup(text, in.Via)
}

func parseRemoteBackup(text string, via *SSHTarget) (dumpOutcome, error) {
	out := dumpOutcome{rows: -1}
	if s := afterMarker(text, "UPGRADER-MISSING"); s != "" {
		out.missing = strings.Fields(s)
		return out, nil
	}
	if strings.Contains(text, "UPGRADER-TRUNCATED") {
		out.problems = []string{"it does not end with mysqldump's \"-- Dump completed\" line (cut short: a full disk, a killed mysqldump?)"}
		return out, nil
	}
	out.tables, _ = strconv.Atoi(strings.TrimSpace(afterMarker(text, "UPGRADER-TABLES")))
	out.bytes, _ = strconv.ParseInt(strings.TrimSpace(afterMarker(text, "UPGRADER-BYTES")), 10, 64)
	out.sha256 = strings.TrimSpace(afterMarker(text, "UPGRADER-SHA256"))
	if len(out.sha256) != 64 {
		return out, fmt.Errorf("the dump on %s printed nothing to check it with: %q", where(via), captureTail(text, 5))
	}
	return out, nil
}

// afterMarker returns the rest of the line that starts with marker.
func afterMarker(text, marker string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, marker) {
			return strings.TrimPrefix(l, marker)
		}
	}
	return ""
}

// remoteBackupPrologue is the start of a backup script on a host: it sets
// $out, takes the lock on $out.lock (fd 9, inherited by the dump tool, so
// the lock lives exactly as long as this try's processes), takes it over
// from an earlier try of the same step by killing that try's process
// group, records itself as the holder, and removes what earlier tries of
// the step left half-written.
func remoteBackupPrologue(out, step, tag string) string {
	q := shellescape.Quote
	dir, base := filepath.Dir(out), filepath.Base(out)
	return fmt.Sprintf(`set -e
umask 077
out=%s
step=%s
me=%s
mkdir -p %s
command -v flock >/dev/null || { echo "flock (util-linux) is not installed on this host"; exit 2; }
exec 9>>"$out.lock"
read -r _ _ _ _ mypg _ < /proc/$$/stat
if ! flock -n 9; then
  holder=$(cat "$out.lock.owner" 2>/dev/null || true)
  case "$holder" in
    "$step "*)
      pg=${holder##* }
      if [ -n "$pg" ] && [ "$pg" != "$mypg" ]; then kill -KILL "-$pg" 2>/dev/null || true; fi
      flock -w 30 9 || { echo "UPGRADER-LOCKED $holder"; exit 75; } ;;
    *) echo "UPGRADER-LOCKED $holder"; exit 75 ;;
  esac
fi
printf '%%s %%s %%s\n' "$step" "$me" "$mypg" > "$out.lock.owner"
rm -rf %s/.%s.*-"$step"-a*.tmp
`, q(out), q(step), q(tag), q(dir), q(dir), q(base))
}
