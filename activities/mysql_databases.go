package activities

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"upgrader/config"
	"upgrader/internal/contract"
)

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

// EnsureDatabases blocks on the server (a CREATE waiting for a metadata
// lock); it heartbeats so a dead worker is noticed within 20 s.
var _ = contract.Declare((*MySQL).EnsureDatabases, contract.Options{Heartbeat: 20 * time.Second})

// EnsureDatabases is idempotent: it can run any number of times.
func (m *MySQL) EnsureDatabases(ctx context.Context, in EnsureDatabasesInput) (EnsureDatabasesResult, error) {
	var res EnsureDatabasesResult
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		res, err = m.ensureDatabases(ctx, in)
		return err
	})
	return res, err
}

func (m *MySQL) ensureDatabases(ctx context.Context, in EnsureDatabasesInput) (EnsureDatabasesResult, error) {
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
	var granted map[string]bool
	if in.User != nil {
		host := in.User.Host
		if host == "" {
			host = "%"
		}
		pw, err := resolveSecretFor(m.Secrets, in.User.PasswordRef, config.SecretUse{Kind: config.UseMySQL})
		if err != nil {
			return res, err
		}
		userHost = fmt.Sprintf("'%s'@'%s'", in.User.Name, host)
		// A new try after a lost worker runs no statement for what the
		// lost one already did: the user, a database, a grant that is
		// there is left alone (the kill sweep counts every statement).
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?", in.User.Name, host).Scan(&n); err != nil || n == 0 {
			if err := exec("CREATE USER IF NOT EXISTS "+userHost+" IDENTIFIED BY ?", pw); err != nil {
				return res, err
			}
		} else {
			granted = m.grantedDatabases(ctx, db, userHost)
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
		if !existing[d.Name] {
			if err := exec(q); err != nil {
				return res, err
			}
		}
		if existing[d.Name] {
			res.Existed = append(res.Existed, d.Name)
		} else {
			res.Created = append(res.Created, d.Name)
		}
		if userHost != "" && !granted[d.Name] {
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

// grantedDatabases are the databases on which user (as 'name'@'host') holds
// all privileges, from SHOW GRANTS; none when it cannot tell.
func (m *MySQL) grantedDatabases(ctx context.Context, db *sql.DB, user string) map[string]bool {
	out := map[string]bool{}
	rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR "+user)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		if rows.Scan(&g) != nil {
			continue
		}
		// GRANT ALL PRIVILEGES ON `hzero_platform`.* TO `choerodon`@`%`
		if rest, ok := strings.CutPrefix(g, "GRANT ALL PRIVILEGES ON `"); ok {
			if name, _, ok := strings.Cut(rest, "`.* TO "); ok {
				out[name] = true
			}
		}
	}
	return out
}

// userDatabases lists the databases a dump of "everything" holds: all but
// the system ones.
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
