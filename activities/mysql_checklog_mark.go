package activities

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"upgrader/internal/contract"
)

// MarkCheckLog connects like PreflightMySQL; heartbeat while it does.
var _ = contract.Declare((*MySQL).MarkCheckLog, contract.Options{Heartbeat: 20 * time.Second})

// CheckLogInput names devops-service's database, whose devops_check_log
// table gets one row when a smooth upgrade (数据修复) task ends.
type CheckLogInput struct {
	DB DBTarget `json:"db"`
	// Database is devops-service's database (devops_service).
	Database string `json:"database"`
	// AfterID: only rows with a greater id count (WaitCheckLog); the output
	// "lastID" of MarkCheckLog, taken before the call.
	AfterID string `json:"afterID,omitempty"`
	// Interval is the pause between two reads (WaitCheckLog).
	Interval contract.Duration `json:"interval,omitempty"`
}

// MarkCheckLog reads the id of devops_check_log's last row before the
// smooth upgrade is called, and publishes it as the output "lastID": the
// table keeps the rows of every earlier upgrade, and only a row added after
// this one says how this call went. A table that does not exist yet counts
// as empty (devops-service's Liquibase creates it on its first start).
func (m *MySQL) MarkCheckLog(ctx context.Context, in CheckLogInput) (contract.Outcome, error) {
	var out contract.Outcome
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		db, err := m.open(ctx, in.DB, "")
		if err != nil {
			return err
		}
		defer db.Close()
		var tables int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'devops_check_log'",
			in.Database).Scan(&tables); err != nil {
			return m.classify(in.DB, "read information_schema on", err)
		}
		var last int64
		if tables > 0 {
			if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM "+quoteIdent(in.Database)+".devops_check_log").Scan(&last); err != nil {
				return m.classify(in.DB, "read devops_check_log on", err)
			}
		}
		out = contract.Outcome{Summary: fmt.Sprintf("%s.devops_check_log on %s: last row %d before the call", in.Database, in.DB, last),
			Outputs: map[string]string{"lastID": strconv.FormatInt(last, 10)}}
		return nil
	})
	return out, err
}
