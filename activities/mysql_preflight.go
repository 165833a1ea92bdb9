package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

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

// A server that accepts TCP and never answers the handshake blocks the
// connect for up to its 10 s timeout; the ticker keeps the try alive and a
// dead worker is noticed within 20 s.
var _ = contract.Declare((*MySQL).PreflightMySQL, contract.Options{Heartbeat: 20 * time.Second})

// PreflightMySQL connects, reads the version, checks binary logging and the
// user's privileges, before a guide changes anything.
func (m *MySQL) PreflightMySQL(ctx context.Context, in MySQLPreflightInput) (MySQLPreflightResult, error) {
	var res MySQLPreflightResult
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		res, err = m.preflight(ctx, in)
		return err
	})
	return res, err
}

func (m *MySQL) preflight(ctx context.Context, in MySQLPreflightInput) (MySQLPreflightResult, error) {
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
