package activities

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// MySQLCheckInput says what a run needs of a MySQL/MariaDB server.
type MySQLCheckInput struct {
	DB DBTarget `json:"db"`
	// Privileges the account needs on *.*, each with why ("RELOAD": "mysqldump
	// --master-data=2 flushes tables"). ALL PRIVILEGES satisfies any.
	Privileges []PrivilegeNeed `json:"privileges"`
	// Backup: the run dumps the server's databases into DumpDir (empty:
	// the worker's artifact folder); its free space must hold them.
	Backup  bool   `json:"backup,omitempty"`
	DumpDir string `json:"dumpDir,omitempty"`
	// Databases the run reads or dumps; empty with Backup: every user database.
	Databases []string `json:"databases,omitempty"`
}

// PrivilegeNeed is one global privilege and the step that needs it.
type PrivilegeNeed struct {
	Privilege string `json:"privilege"`
	Why       string `json:"why"`
}

// Connecting to a server that never answers the handshake takes up to 10 s.
var _ = contract.Declare((*Preflight).CheckMySQL, contract.Options{Heartbeat: 20 * time.Second})

// CheckMySQL connects in a READ ONLY session and reports: the server
// answers (version, binary logging); the account holds every privilege the
// run uses (the dump's SELECT, LOCK TABLES, SHOW VIEW, EVENT, TRIGGER,
// RELOAD and REPLICATION CLIENT for --single-transaction --master-data=2;
// CREATE, ALTER, DROP, INDEX for the guide's DDL; CREATE USER, GRANT
// OPTION); and, for a backup, that the disk the dump goes to holds the
// databases' size.
func (p *Preflight) CheckMySQL(ctx context.Context, in MySQLCheckInput) (contract.Outcome, error) {
	var out contract.Outcome
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		out, err = p.checkMySQL(ctx, in)
		return err
	})
	return out, err
}

func (p *Preflight) checkMySQL(ctx context.Context, in MySQLCheckInput) (contract.Outcome, error) {
	target := in.DB.String()
	m := &MySQL{Secrets: p.Secrets, Scrub: p.Scrub}
	db, err := m.open(ctx, in.DB, "")
	if err != nil {
		if isAppErr(err, ErrDBAuthFailed) {
			return outcome("mysql", []contract.Check{fail("mysql", target, p.scrub(err.Error()),
				fmt.Sprintf("check db.admin.user and the secret %q on the worker", in.DB.PasswordRef))})
		}
		if isAppErr(err, contract.ErrSecretNotFound) {
			return contract.Outcome{}, err
		}
		return outcome("mysql", []contract.Check{fail("mysql", target, p.scrub(err.Error()),
			"check db.admin.address, that MySQL runs there and that the worker may reach it (firewall, bind-address)")})
	}
	defer db.Close()
	// One connection (open sets it): every statement below runs in this
	// read-only session.
	if _, err := db.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY"); err != nil {
		return contract.Outcome{}, m.classify(in.DB, "make the session read-only on", err)
	}
	var version string
	var logBin int
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@log_bin").Scan(&version, &logBin); err != nil {
		return contract.Outcome{}, m.classify(in.DB, "read the version of", err)
	}
	checks := []contract.Check{pass("mysql", target, fmt.Sprintf("answers: %s, binary log %s", version, map[bool]string{true: "on", false: "off"}[logBin == 1]))}
	grants, err := showGrants(ctx, db)
	if err != nil {
		return contract.Outcome{}, m.classify(in.DB, "read the grants on", err)
	}
	acct := account(ctx, db, in.DB.User)
	for _, need := range in.Privileges {
		priv := strings.ToUpper(need.Privilege)
		if hasGlobalPrivilege(grants, priv) || (priv == "REPLICATION CLIENT" && hasGlobalPrivilege(grants, "BINLOG MONITOR")) {
			checks = append(checks, pass("mysql-grant", target, priv+" on *.* ("+need.Why+")"))
			continue
		}
		grant := "GRANT " + priv + " ON *.* TO " + acct
		if priv == "GRANT OPTION" {
			grant = "GRANT USAGE ON *.* TO " + acct + " WITH GRANT OPTION"
		}
		checks = append(checks, fail("mysql-grant", target, "no "+priv+" on *.*; "+need.Why+" needs it",
			grant+" (as an administrator), or use an account that has it"))
	}
	if in.Backup {
		checks = append(checks, p.dumpSpace(ctx, db, in))
	}
	return outcome("mysql", checks)
}

// dumpSpace compares the databases' size with the free space where the
// dump is written. A SQL dump is about as large as the data and indexes
// InnoDB reports (text for numbers, no index pages): less free space fails,
// less than twice that warns.
func (p *Preflight) dumpSpace(ctx context.Context, db *sql.DB, in MySQLCheckInput) contract.Check {
	dir := in.DumpDir
	if dir == "" {
		dir = p.ArtifactDir
	}
	q := "SELECT COUNT(DISTINCT table_schema), COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema NOT IN ('" +
		strings.Join(SystemDatabases, "','") + "')"
	var args []any
	if len(in.Databases) > 0 {
		q = "SELECT COUNT(DISTINCT table_schema), COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema IN (?" +
			strings.Repeat(",?", len(in.Databases)-1) + ")"
		for _, d := range in.Databases {
			args = append(args, d)
		}
	}
	var dbs int
	var size uint64
	if err := db.QueryRowContext(ctx, q, args...).Scan(&dbs, &size); err != nil {
		return fail("free-disk", dir, p.scrub("unable to read the databases' size: "+err.Error()), "grant the account SELECT on information_schema (it has it by default)")
	}
	free, where, err := p.freeBytes(dir)
	if err != nil {
		return fail("free-disk", dir, "unable to read the free space: "+err.Error(), "check artifactDir in the worker config")
	}
	found := fmt.Sprintf("%d databases, %s of data and indexes; %s free on %s", dbs, humanBytes(size), humanBytes(free), where)
	switch {
	case free < size:
		return fail("free-disk", dir, found, fmt.Sprintf("free at least %s there, or point artifactDir at a larger disk", humanBytes(size-free)))
	case free < 2*size:
		return warn("free-disk", dir, found, "a dump can grow past the data size; make room for twice the data")
	}
	return pass("free-disk", dir, found)
}

func showGrants(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		grants = append(grants, strings.ToUpper(g))
	}
	return grants, rows.Err()
}

// account is the session's account as a GRANT names it ('root'@'%').
func account(ctx context.Context, db *sql.DB, user string) string {
	var cur string
	if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cur); err == nil {
		if i := strings.LastIndex(cur, "@"); i > 0 {
			return "'" + cur[:i] + "'@'" + cur[i+1:] + "'"
		}
	}
	return "'" + user + "'@'%'"
}

// isAppErr says whether err is an application error of type typ.
func isAppErr(err error, typ string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == typ
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
