package activities

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"github.com/go-sql-driver/mysql"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// Error types of database steps.
const (
	ErrDBAuthFailed       = "DBAuthFailed"       // wrong user or password
	ErrSQLStatementFailed = "SQLStatementFailed" // a statement of a script failed
	ErrDumpIncomplete     = "DumpIncomplete"     // a dump lacks a database it should hold
	ErrDumpFailed         = "DumpFailed"         // mysqldump failed
)

// DBTarget is a MySQL/MariaDB server as a step's input carries it: the
// password only by secret name.
type DBTarget struct {
	Name        string `json:"name"`    // for messages: c7n-mysql
	Address     string `json:"address"` // host:port
	User        string `json:"user"`
	PasswordRef string `json:"passwordRef"`
}

// String names the server for messages, without the password.
func (t DBTarget) String() string {
	if t.Name != "" {
		return t.Name + " (" + t.User + "@" + t.Address + ")"
	}
	return t.User + "@" + t.Address
}

// MySQL runs steps against MySQL and MariaDB: pre-flight, SQL scripts,
// databases/users/grants, and mysqldump backups (on the worker, or on a
// host over SSH as the BlueKing guide does).
type MySQL struct {
	Secrets   Secrets
	Scrub     Scrubber
	Artifacts *Artifacts
	// Host runs dumps on remote hosts.
	Host *Host
}

func (m *MySQL) scrub(s string) string {
	if m.Scrub == nil {
		return s
	}
	return m.Scrub.Scrub(s)
}

func (m *MySQL) open(ctx context.Context, t DBTarget, database string) (*sql.DB, error) {
	if t.Address == "" || t.User == "" {
		return nil, invalid("database server %q needs an address and a user", t.Name)
	}
	pw := ""
	if t.PasswordRef != "" {
		var err error
		if pw, err = resolveSecret(m.Secrets, t.PasswordRef); err != nil {
			return nil, err
		}
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = t.User, pw, "tcp", t.Address, database
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 10*time.Second, 10*time.Minute, 10*time.Minute
	cfg.InterpolateParams = true
	cfg.ParseTime = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, invalid("database server %s: %v", t, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, m.classify(t, "connect", err)
	}
	return db, nil
}

// classify turns a driver error into one the operator can act on: wrong
// credentials and SQL errors are not retried; network trouble is.
func (m *MySQL) classify(t DBTarget, what string, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		msg := m.scrub(fmt.Sprintf("%s on %s: %v", what, t, err))
		switch me.Number {
		case 1045, 1044, 1698:
			return temporal.NewNonRetryableApplicationError(msg+"; check the user and the secret "+strconv.Quote(t.PasswordRef), ErrDBAuthFailed, nil)
		}
		return temporal.NewNonRetryableApplicationError(msg, ErrSQLStatementFailed, nil)
	}
	return errors.New(m.scrub(fmt.Sprintf("unable to %s %s: %v", what, t, err)))
}

// MySQLPreflightInput says what a guide needs of the server.
type MySQLPreflightInput struct {
	DB DBTarget `json:"db"`
	// Privileges the user must hold globally, e.g. CREATE, CREATE USER,
	// GRANT OPTION; ALL PRIVILEGES satisfies any.
	Privileges []string `json:"privileges,omitempty"`
	// RequireBinlog fails when binary logging is off (a dump with
	// --master-data needs it).
	RequireBinlog bool `json:"requireBinlog,omitempty"`
}

// MySQLPreflightResult describes the server.
type MySQLPreflightResult struct {
	contract.Outcome
	Version string `json:"version"`
	Flavor  string `json:"flavor"` // mariadb or mysql
	Binlog  bool   `json:"binlog"`
}

// PreflightMySQL connects, reads the version, checks binary logging and the
// user's privileges, before a guide changes anything.
func (m *MySQL) PreflightMySQL(ctx context.Context, in MySQLPreflightInput) (MySQLPreflightResult, error) {
	db, err := m.open(ctx, in.DB, "")
	if err != nil {
		return MySQLPreflightResult{}, err
	}
	defer db.Close()
	var res MySQLPreflightResult
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&res.Version); err != nil {
		return res, m.classify(in.DB, "read the version of", err)
	}
	res.Flavor = "mysql"
	if strings.Contains(strings.ToLower(res.Version), "mariadb") {
		res.Flavor = "mariadb"
	}
	var logBin int
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin").Scan(&logBin); err == nil {
		res.Binlog = logBin == 1
	}
	if in.RequireBinlog && !res.Binlog {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"binary logging is off on %s; the guide's backup records the binlog position (--master-data), so enable log_bin or drop that option", in.DB),
			contract.ErrPrecondition, nil)
	}
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return res, m.classify(in.DB, "read the grants on", err)
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return res, err
		}
		grants = append(grants, strings.ToUpper(g))
	}
	var missing []string
	for _, p := range in.Privileges {
		if !hasGlobalPrivilege(grants, strings.ToUpper(p)) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s lacks %s on *.*; grant them or use an account that has them", in.DB, strings.Join(missing, ", ")),
			contract.ErrPrecondition, nil)
	}
	res.Summary = fmt.Sprintf("%s %s, binlog %v, privileges ok", res.Flavor, res.Version, res.Binlog)
	return res, nil
}

func hasGlobalPrivilege(grants []string, p string) bool {
	for _, g := range grants {
		if !strings.Contains(g, " ON *.* ") {
			continue
		}
		if strings.Contains(g, "ALL PRIVILEGES") && (p != "GRANT OPTION" || strings.Contains(g, "WITH GRANT OPTION")) {
			return true
		}
		if p == "GRANT OPTION" && strings.Contains(g, "WITH GRANT OPTION") {
			return true
		}
		head := strings.SplitN(g, " ON ", 2)[0]
		for _, have := range strings.Split(strings.TrimPrefix(head, "GRANT "), ",") {
			if strings.TrimSpace(have) == p {
				return true
			}
		}
	}
	return false
}

// SQLScriptInput runs a script (DDL files such as WeCube's v4.0.0.sql).
type SQLScriptInput struct {
	DB       DBTarget `json:"db"`
	Database string   `json:"database,omitempty"`
	// Name names the script in messages (the file it came from).
	Name   string `json:"name"`
	Script string `json:"script"`
}

// SQLScriptResult counts what ran.
type SQLScriptResult struct {
	contract.Outcome
	Statements int `json:"statements"`
	Skipped    int `json:"skipped"` // applied by an earlier try of this step
}

// RunScript runs the script one statement at a time. DDL cannot be rolled
// back, so the count of applied statements is kept in the run's artifact
// folder: a retry of the step (by Temporal or by an operator) resumes after
// the statements already applied instead of repeating them. A failing
// statement is reported by number, line and text.
func (m *MySQL) RunScript(ctx context.Context, in SQLScriptInput) (SQLScriptResult, error) {
	stmts, err := SplitSQL(in.Script)
	if err != nil {
		return SQLScriptResult{}, invalid("script %s: %v", in.Name, err)
	}
	if len(stmts) == 0 {
		return SQLScriptResult{}, invalid("script %s holds no statement", in.Name)
	}
	sum := sha256.Sum256([]byte(in.Script))
	progress, done := m.loadProgress(ctx, hex.EncodeToString(sum[:]))
	db, err := m.open(ctx, in.DB, in.Database)
	if err != nil {
		return SQLScriptResult{}, err
	}
	defer db.Close()
	for i := done; i < len(stmts); i++ {
		st := stmts[i]
		if _, err := db.ExecContext(ctx, st.SQL); err != nil {
			var me *mysql.MySQLError
			msg := fmt.Sprintf("%s: statement %d of %d (line %d: %s) failed on %s: %v; statements 1-%d are applied and stay applied",
				in.Name, i+1, len(stmts), st.Line, oneLine(st.SQL), in.DB, err, i)
			if errors.As(err, &me) {
				return SQLScriptResult{}, temporal.NewNonRetryableApplicationError(m.scrub(msg+"; fix the cause, then retry (it resumes at this statement) or skip"), ErrSQLStatementFailed, nil)
			}
			return SQLScriptResult{}, errors.New(m.scrub(msg))
		}
		progress(i + 1)
		activity.RecordHeartbeat(ctx, i+1)
	}
	res := SQLScriptResult{Statements: len(stmts) - done, Skipped: done}
	res.Summary = fmt.Sprintf("%s: %d statements applied on %s", in.Name, len(stmts)-done, in.DB)
	if done > 0 {
		res.Summary += fmt.Sprintf(" (%d applied by an earlier try)", done)
	}
	return res, nil
}

// loadProgress returns how many statements of this script an earlier try
// of the same step applied, and a function to record progress.
func (m *MySQL) loadProgress(ctx context.Context, scriptSum string) (func(int), int) {
	if m.Artifacts == nil {
		return func(int) {}, 0
	}
	dir, err := m.Artifacts.RunDir(ctx)
	if err != nil {
		return func(int) {}, 0
	}
	p := filepath.Join(dir, "sql", safePath(StepName(ctx))+".applied")
	done := 0
	if b, err := os.ReadFile(p); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 && f[0] == scriptSum {
			done, _ = strconv.Atoi(f[1])
		}
	}
	_ = os.MkdirAll(filepath.Dir(p), 0o700)
	return func(n int) { _ = os.WriteFile(p, []byte(scriptSum+" "+strconv.Itoa(n)+"\n"), 0o600) }, done
}

// DatabaseSpec is one database to create.
type DatabaseSpec struct {
	Name      string `json:"name"`
	Charset   string `json:"charset,omitempty"`   // default utf8mb4
	Collation string `json:"collation,omitempty"` // default utf8mb4_unicode_ci
}

// DBUser is an account to create, with its password by secret name.
type DBUser struct {
	Name        string `json:"name"`
	Host        string `json:"host"` // default %
	PasswordRef string `json:"passwordRef"`
}

// EnsureDatabasesInput creates databases, a user, and grants the user all
// privileges on each database: the guides' CREATE … IF NOT EXISTS blocks.
type EnsureDatabasesInput struct {
	DB        DBTarget       `json:"db"`
	Databases []DatabaseSpec `json:"databases"`
	User      *DBUser        `json:"user,omitempty"`
}

// EnsureDatabasesResult says what was created and what already existed.
type EnsureDatabasesResult struct {
	contract.Outcome
	Created []string `json:"created"`
	Existed []string `json:"existed"`
}

var (
	identRe   = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)
	charsetRe = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	userRe    = regexp.MustCompile(`^[A-Za-z0-9_.%-]{1,80}$`)
)

// EnsureDatabases is idempotent: it can run any number of times.
func (m *MySQL) EnsureDatabases(ctx context.Context, in EnsureDatabasesInput) (EnsureDatabasesResult, error) {
	var problems []string
	for _, d := range in.Databases {
		if !identRe.MatchString(d.Name) {
			problems = append(problems, fmt.Sprintf("database name %q (letters, digits, _ and $ only)", d.Name))
		}
		for _, v := range []string{d.Charset, d.Collation} {
			if v != "" && !charsetRe.MatchString(v) {
				problems = append(problems, fmt.Sprintf("charset/collation %q", v))
			}
		}
	}
	if in.User != nil && (!userRe.MatchString(in.User.Name) || (in.User.Host != "" && !userRe.MatchString(in.User.Host))) {
		problems = append(problems, fmt.Sprintf("user %q@%q", in.User.Name, in.User.Host))
	}
	if len(problems) > 0 {
		return EnsureDatabasesResult{}, invalid("cannot create: invalid %s", strings.Join(problems, "; "))
	}
	db, err := m.open(ctx, in.DB, "")
	if err != nil {
		return EnsureDatabasesResult{}, err
	}
	defer db.Close()
	existing := map[string]bool{}
	rows, err := db.QueryContext(ctx, "SHOW DATABASES")
	if err != nil {
		return EnsureDatabasesResult{}, m.classify(in.DB, "list databases on", err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		existing[n] = true
	}
	rows.Close()

	var res EnsureDatabasesResult
	exec := func(q string, args ...any) error {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			return m.classify(in.DB, "run `"+oneLine(q)+"` on", err)
		}
		return nil
	}
	userHost := ""
	if in.User != nil {
		host := in.User.Host
		if host == "" {
			host = "%"
		}
		pw, err := resolveSecret(m.Secrets, in.User.PasswordRef)
		if err != nil {
			return res, err
		}
		userHost = fmt.Sprintf("'%s'@'%s'", in.User.Name, host)
		if err := exec("CREATE USER IF NOT EXISTS "+userHost+" IDENTIFIED BY ?", pw); err != nil {
			return res, err
		}
	}
	for _, d := range in.Databases {
		cs, co := d.Charset, d.Collation
		if cs == "" {
			cs = "utf8mb4"
		}
		q := fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s` DEFAULT CHARACTER SET %s", d.Name, cs)
		if co != "" || cs == "utf8mb4" {
			if co == "" {
				co = "utf8mb4_unicode_ci"
			}
			q += " COLLATE " + co
		}
		if err := exec(q); err != nil {
			return res, err
		}
		if existing[d.Name] {
			res.Existed = append(res.Existed, d.Name)
		} else {
			res.Created = append(res.Created, d.Name)
		}
		if userHost != "" {
			if err := exec(fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s`.* TO %s", d.Name, userHost)); err != nil {
				return res, err
			}
		}
	}
	if err := exec("FLUSH PRIVILEGES"); err != nil {
		return res, err
	}
	res.Summary = fmt.Sprintf("on %s: created %v, already there %v", in.DB, res.Created, res.Existed)
	if userHost != "" {
		res.Summary += ", all privileges granted to " + userHost
	}
	return res, nil
}

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

// DumpMySQL runs mysqldump and then checks that the file holds a CREATE DATABASE
// for every database it should: a backup that is not verified does not
// count, and the destructive steps after it stay blocked.
func (m *MySQL) DumpMySQL(ctx context.Context, in DumpInput) (DumpResult, error) {
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
	pre, err := m.PreflightMySQL(ctx, MySQLPreflightInput{DB: in.DB})
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
	opts := in.Options
	if opts == nil {
		opts = GuideDumpOptions
	}
	// Which mysqldump will run? Ask it, on the host that runs it.
	ver, err := m.runShell(ctx, in.Via, "mysqldump --version", nil)
	if err != nil {
		return DumpResult{}, fmt.Errorf("mysqldump is not usable on %s: %w", where(in.Via), err)
	}
	opts, notes := AdaptDumpOptions(opts, strings.Contains(strings.ToLower(ver), "mariadb"), pre.Binlog)

	host, port, _ := strings.Cut(in.DB.Address, ":")
	if port == "" {
		port = "3306"
	}
	// The password goes into a 0600 defaults file created inside the
	// script (which travels over stdin), never into argv.
	script := fmt.Sprintf(`set -e
umask 077
f=$(mktemp)
trap 'rm -f "$f"' EXIT
pw=$(printf '%%s' "$UPGRADER_DB_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')
printf '[client]\nuser=%%s\npassword="%%s"\nhost=%%s\nport=%%s\n' %s "$pw" %s %s > "$f"
mkdir -p %s
mysqldump --defaults-extra-file="$f" %s -B %s > %s.tmp
mv -f %s.tmp %s
wc -c < %s
sha256sum %s | cut -d' ' -f1
grep -a '^CREATE DATABASE' %s || true
`, shellescape.Quote(in.DB.User), shellescape.Quote(host), shellescape.Quote(port),
		shellescape.Quote(filepath.Dir(in.OutPath)), QuoteArgs(opts), QuoteArgs(dbs),
		shellescape.Quote(in.OutPath), shellescape.Quote(in.OutPath), shellescape.Quote(in.OutPath),
		shellescape.Quote(in.OutPath), shellescape.Quote(in.OutPath), shellescape.Quote(in.OutPath))
	secretEnv := map[string]string{}
	if in.DB.PasswordRef != "" {
		secretEnv["UPGRADER_DB_PASSWORD"] = in.DB.PasswordRef
	}
	out, err := m.runShell(ctx, in.Via, script, secretEnv)
	if err != nil {
		return DumpResult{}, temporal.NewNonRetryableApplicationError(m.scrub(fmt.Sprintf(
			"mysqldump of %v from %s on %s failed: %v", dbs, in.DB, where(in.Via), err)), ErrDumpFailed, nil)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return DumpResult{}, fmt.Errorf("mysqldump on %s printed nothing to check the dump with: %q", where(in.Via), out)
	}
	res := DumpResult{Path: in.OutPath, Databases: dbs, Adapted: notes}
	res.Bytes, _ = strconv.ParseInt(strings.TrimSpace(lines[0]), 10, 64)
	res.SHA256 = strings.TrimSpace(lines[1])
	found := map[string]bool{}
	for _, l := range lines[2:] {
		if m := createDBRe.FindStringSubmatch(l); m != nil {
			found[m[1]] = true
		}
	}
	var missing []string
	for _, d := range dbs {
		if !found[d] {
			missing = append(missing, d)
		}
	}
	if res.Bytes == 0 || len(missing) > 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump %s on %s (%d bytes) has no CREATE DATABASE for %v: it is not a complete backup; do not go on",
			in.OutPath, where(in.Via), res.Bytes, missing), ErrDumpIncomplete, nil, res)
	}
	res.Summary = fmt.Sprintf("%d databases dumped to %s on %s (%d bytes, sha256 %s…), every CREATE DATABASE present",
		len(dbs), in.OutPath, where(in.Via), res.Bytes, res.SHA256[:min(12, len(res.SHA256))])
	if len(notes) > 0 {
		res.Summary += "; " + strings.Join(notes, "; ")
	}
	return res, nil
}

var createDBRe = regexp.MustCompile("^CREATE DATABASE (?:/\\*!32312 IF NOT EXISTS\\*/ |IF NOT EXISTS )?`([^`]+)`")

func (m *MySQL) userDatabases(ctx context.Context, t DBTarget) ([]string, error) {
	db, err := m.open(ctx, t, "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SHOW DATABASES")
	if err != nil {
		return nil, m.classify(t, "list databases on", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		skip := false
		for _, s := range SystemDatabases {
			if n == s {
				skip = true
			}
		}
		if !skip {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func where(via *SSHTarget) string {
	if via == nil {
		return "the worker"
	}
	return via.String()
}

// runShell runs a script with sh on the worker or on a host, with secret
// env values resolved here, and returns its output.
func (m *MySQL) runShell(ctx context.Context, via *SSHTarget, script string, secretEnv map[string]string) (string, error) {
	if via != nil {
		if m.Host == nil {
			return "", invalid("no SSH configured on this worker to reach %s", via)
		}
		res, err := m.Host.Run(ctx, HostCommandInput{Host: *via, Command: script, SecretEnv: secretEnv})
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(res.LogPath)
		if err != nil {
			return strings.Join(res.Tail, "\n"), nil
		}
		return lastTry(string(b)), nil
	}
	cmd := exec.CommandContext(ctx, "sh", "-s")
	cmd.Stdin = strings.NewReader("exec 2>&1\n" + script)
	cmd.Env = os.Environ()
	for k, ref := range secretEnv {
		v, err := resolveSecret(m.Secrets, ref)
		if err != nil {
			return "", err
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, m.scrub(strings.TrimSpace(string(out))))
	}
	return string(out), nil
}

// lastTry returns the output of the last try in a step log.
func lastTry(log string) string {
	if i := strings.LastIndex(log, "\n---- "); i >= 0 {
		log = log[i+1:]
	}
	if strings.HasPrefix(log, "---- ") {
		if j := strings.IndexByte(log, '\n'); j >= 0 {
			log = log[j+1:]
		}
	}
	return log
}
