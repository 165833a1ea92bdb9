package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// CheckSchema connects like PreflightMySQL (a server that never answers
// blocks up to its connect timeout); heartbeat while it does.
var _ = contract.Declare((*MySQL).CheckSchema, contract.Options{Heartbeat: 20 * time.Second})

// SchemaInput lists what a database must hold after a DDL script.
type SchemaInput struct {
	DB       DBTarget `json:"db"`
	Database string   `json:"database"`
	// Tables that must exist; Columns as table.column.
	Tables  []string `json:"tables,omitempty"`
	Columns []string `json:"columns,omitempty"`
}

// SchemaResult counts what was found.
type SchemaResult struct {
	contract.Outcome
	Tables  int `json:"tables"`
	Columns int `json:"columns"`
}

// CheckSchema reads information_schema and fails, naming each, when a
// table or column is missing: the check that a DDL script took effect
// looks at the schema itself, not at a record that it ran.
func (m *MySQL) CheckSchema(ctx context.Context, in SchemaInput) (SchemaResult, error) {
	var res SchemaResult
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		db, err := m.open(ctx, in.DB, "")
		if err != nil {
			return err
		}
		defer db.Close()
		var missing []string
		for _, t := range in.Tables {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", in.Database, t).Scan(&n); err != nil {
				return m.classify(in.DB, "read information_schema on", err)
			}
			if n == 0 {
				missing = append(missing, "table "+t)
			}
		}
		for _, c := range in.Columns {
			t, col, ok := strings.Cut(c, ".")
			if !ok {
				return invalid("column %q: give table.column", c)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?", in.Database, t, col).Scan(&n); err != nil {
				return m.classify(in.DB, "read information_schema on", err)
			}
			if n == 0 {
				missing = append(missing, "column "+c)
			}
		}
		if len(missing) > 0 {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s on %s lacks %s: the upgrade DDL is not (fully) applied; see the DDL step's result",
				in.Database, in.DB, strings.Join(missing, ", ")), contract.ErrPrecondition, nil)
		}
		res.Tables, res.Columns = len(in.Tables), len(in.Columns)
		res.Summary = fmt.Sprintf("%s on %s has the %d tables and %d columns the upgrade adds", in.Database, in.DB, res.Tables, res.Columns)
		return nil
	})
	return res, err
}
