package activities

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.temporal.io/sdk/temporal"

	"upgrader/config"
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
	// SyncProgress makes RunScript record each statement's progress in
	// Temporal before the next statement starts (a heartbeat sent through
	// the worker's client, synchronously). Without it, progress goes through
	// the SDK's batched heartbeats, which may hold it back for most of a
	// heartbeat timeout, so a worker lost right after a statement can leave
	// older progress and the statement runs again on the next try. The
	// worker sets it; the SDK's test environments (a mock client) cannot.
	SyncProgress bool
}

func (m *MySQL) scrub(s string) string { return scrubText(m.Scrub, s) }

func (m *MySQL) password(t DBTarget) (string, error) {
	if t.PasswordRef == "" {
		return "", nil
	}
	return resolveSecretFor(m.Secrets, t.PasswordRef, config.SecretUse{Kind: config.UseMySQL})
}

func (m *MySQL) open(ctx context.Context, t DBTarget, database string) (*sql.DB, error) {
	if t.Address == "" || t.User == "" {
		return nil, invalid("database server %q needs an address and a user", t.Name)
	}
	pw, err := m.password(t)
	if err != nil {
		return nil, err
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

func where(via *SSHTarget) string {
	if via == nil {
		return "the worker"
	}
	return via.String()
}

// capture runs a sh script on the worker (localCommand: its own process
// group, killed with the try) or on a host over SSH (Host.capture), with
// secret env values resolved on the worker, and returns its output.
func (m *MySQL) capture(ctx context.Context, via *SSHTarget, script string, secretEnv map[string]string) (string, error) {
	if via != nil {
		if m.Host == nil {
			return "", invalid("no SSH configured on this worker to reach %s", via)
		}
		return m.Host.capture(ctx, *via, script, secretEnv)
	}
	cmd := localCommand(ctx, "sh", "-s")
	cmd.Stdin = strings.NewReader("exec 2>&1\n" + script)
	cmd.Env = os.Environ()
	for k, ref := range secretEnv {
		v, err := resolveSecretFor(m.Secrets, ref, config.SecretUse{Kind: config.UseMySQL})
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

// quoteIdent quotes a database or table name for MySQL.
func quoteIdent(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }
