package activities

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// WaitCheckLog polls; pollUntil heartbeats every third of waitHeartbeat.
var _ = contract.Declare((*MySQL).WaitCheckLog, contract.Options{Heartbeat: waitHeartbeat})

// CheckLogResult is the row devops-service wrote when its task ended.
type CheckLogResult struct {
	contract.Outcome
	ID      int64 `json:"id"`
	Entries int   `json:"entries"`
	Failed  int   `json:"failed"`
}

// checkLogEntry is one item of the row's log column: devops-service writes
// JSON.toJSONString(List<CheckLog>), each {content, result}, result
// "success" or "failed: <message>" (devops-service 0.9.3
// app/service/impl/DevopsCheckLogServiceImpl.java, UpgradeTask.run; the table:
// src/main/resources/script/db/devops_check_log.groovy — id, begin_check_date,
// end_check_date, log VARCHAR(5000)).
type checkLogEntry struct {
	Content string `json:"content"`
	Result  string `json:"result"`
}

// WaitCheckLog waits for the row devops-service inserts into
// devops_check_log when the smooth upgrade task the call queued has ended
// (the task runs on a single-thread executor after the call answered; the
// row is written once, at the end, with both dates), then reads its log:
// every item must say "success". Items that failed are named; the task is
// not run again by this step (a second call re-runs only what is still
// missing, and is the operator's decision).
func (m *MySQL) WaitCheckLog(ctx context.Context, in CheckLogInput) (CheckLogResult, error) {
	after, err := strconv.ParseInt(in.AfterID, 10, 64)
	if err != nil {
		return CheckLogResult{}, invalid("afterID %q: the last row id read before the call", in.AfterID)
	}
	interval := in.Interval.D()
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	db, err := m.open(ctx, in.DB, "")
	if err != nil {
		return CheckLogResult{}, err
	}
	defer db.Close()
	var res CheckLogResult
	var logText string
	q := "SELECT id, log FROM " + quoteIdent(in.Database) + ".devops_check_log WHERE id > ? ORDER BY id LIMIT 1"
	_, err = pollUntil(ctx, in.Database+".devops_check_log", "has the upgrade task's row", interval, func() (bool, string) {
		var text sql.NullString
		err := db.QueryRowContext(ctx, q, after).Scan(&res.ID, &text)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return false, fmt.Sprintf("no row after id %d yet: the task is still running (its progress is in devops-service's log)", after)
		case err != nil:
			return false, m.scrub(m.classify(in.DB, "read devops_check_log on", err).Error())
		}
		logText = text.String
		return true, fmt.Sprintf("row %d", res.ID)
	})
	if err != nil {
		return res, err
	}
	entries, failed, err := parseCheckLog(logText)
	if err != nil {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("devops_check_log row %d: %v; read its log column by hand, then skip this step with what you found",
			res.ID, err), contract.ErrPrecondition, nil)
	}
	res.Entries, res.Failed = len(entries), len(failed)
	if len(failed) > 0 {
		shown := failed
		if len(shown) > 5 {
			shown = shown[:5]
		}
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("devops-service's upgrade task ended with %d of %d items failed (devops_check_log row %d): %s. "+
			"Fix each (GitLab reachable, the application's project there), then call the smooth upgrade again by hand (it redoes only what is missing) "+
			"and skip this step with a reason, or skip it now naming the failed items",
			len(failed), len(entries), res.ID, strings.Join(shown, "; ")), contract.ErrPrecondition, nil)
	}
	res.Summary = fmt.Sprintf("devops-service's upgrade task ended: row %d of devops_check_log, %d items, all success", res.ID, len(entries))
	return res, nil
}

// parseCheckLog reads a log column and returns its items and the ones that
// did not succeed ("content: result"). An empty list is a task that had
// nothing to do (0.21's data repair writes "[]").
func parseCheckLog(text string) ([]checkLogEntry, []string, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil, nil
	}
	var entries []checkLogEntry
	if err := json.Unmarshal([]byte(text), &entries); err != nil {
		return nil, nil, fmt.Errorf("the log column is not the JSON list devops-service writes (%v)", err)
	}
	var failed []string
	for _, e := range entries {
		if e.Result != "success" {
			failed = append(failed, e.Content+": "+e.Result)
		}
	}
	return entries, failed, nil
}
