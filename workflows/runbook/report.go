package runbook

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ActivityWriteRunReport is the activity that writes a run's report into
// its artifact folder (activities.Report.WriteRunReport, internal/report).
const ActivityWriteRunReport = "WriteRunReport"

// versionReport marks runs that write their report when they end; runs
// started before it replay without the activity.
const versionReport = "run-report"

// reportInput is internal/report.Input in JSON.
type reportInput struct {
	Status    RunStatus       `json:"status"`
	StartedAt time.Time       `json:"startedAt,omitempty"`
	EndedAt   time.Time       `json:"endedAt,omitempty"`
	Sections  []reportSection `json:"sections,omitempty"`
}

type reportSection struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Heading string `json:"heading,omitempty"`
}

// writeReport runs the report activity once the run has ended. A report
// that cannot be written never changes how the run ended: its failure is
// logged, and `starter report ID` writes it again on demand.
func (r *runner) writeReport(ctx workflow.Context) {
	if workflow.GetVersion(ctx, versionReport, workflow.DefaultVersion, 1) != 1 {
		return
	}
	info := workflow.GetInfo(ctx)
	in := reportInput{Status: r.status, StartedAt: info.WorkflowStartTime, EndedAt: workflow.Now(ctx)}
	for _, st := range r.status.Steps {
		if !st.StartedAt.IsZero() && st.StartedAt.Before(in.StartedAt) {
			in.StartedAt = st.StartedAt
		}
	}
	for _, s := range r.guide.Map {
		in.Sections = append(in.Sections, reportSection{ID: s.ID, Title: s.Title, Heading: s.Heading})
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ActivityID:          "report",
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    notifyHeartbeat,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	if err := workflow.ExecuteActivity(actx, ActivityWriteRunReport, in).Get(ctx, nil); err != nil {
		r.logger.Warn("the run's report was not written; `starter report` writes it on demand", "error", err)
	}
}
