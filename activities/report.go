package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"upgrader/internal/contract"
	"upgrader/internal/notify"
	"upgrader/internal/report"
)

// Report writes a run's report (report.md and a self-contained report.html
// with a timeline) into the run's artifact folder. The runbook runs it when
// a run ends, so a run that ends while nobody watches still leaves its
// report; `starter report ID` writes the same files on demand.
type Report struct {
	Artifacts *Artifacts
	// Notify, when set, posts the run's end (with the report's path) to the
	// worker's webhooks once the report is written.
	Notify *Notify
}

// WriteRunReport renders the run's report. It is repeatable: each try
// rewrites both files whole (written aside, then renamed).
func (a *Report) WriteRunReport(ctx context.Context, in report.Input) (contract.Outcome, error) {
	info := activity.GetInfo(ctx)
	if in.WorkflowID == "" {
		in.WorkflowID = info.WorkflowExecution.ID
	}
	if in.RunID == "" {
		in.RunID = info.WorkflowExecution.RunID
	}
	if in.GeneratedAt.IsZero() {
		in.GeneratedAt = time.Now().UTC()
	}
	dir, err := a.Artifacts.RunDir(ctx)
	if err != nil {
		return contract.Outcome{}, err
	}
	md, html, err := report.Write(dir, in)
	if err != nil {
		return contract.Outcome{}, err
	}
	if a.Notify != nil && !in.EndedAt.IsZero() {
		st := in.Status
		_, _ = a.Notify.NotifyOperators(ctx, notify.Event{Kind: notify.RunEnded, WorkflowID: in.WorkflowID, Guide: st.Guide,
			Title: st.Title, Environment: st.Target.Environment, From: st.Target.From, To: st.Target.To, State: string(st.State),
			Report: html, At: in.EndedAt})
	}
	return contract.Outcome{
		Summary: fmt.Sprintf("report written: %s", html),
		Outputs: map[string]string{"markdown": md, "html": html},
	}, nil
}

// WriteRunReport writes two local files, then posts the run's end to the
// webhooks (heartbeating while they answer): NotifyHeartbeat notices a
// worker lost with the task, which the run's end otherwise waits a minute for.
var _ = contract.Declare((*Report).WriteRunReport, contract.Options{Heartbeat: NotifyHeartbeat, Timeout: time.Minute})
