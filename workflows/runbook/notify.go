package runbook

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ActivityNotifyOperators posts a moment that needs people to the worker's
// webhooks (activities.Notify.NotifyOperators, internal/notify). The run's
// end is posted by the report activity, once the report is written.
const ActivityNotifyOperators = "NotifyOperators"

// notifyHeartbeat is the heartbeat timeout NotifyOperators and
// WriteRunReport declare (activities.NotifyHeartbeat): a worker lost while
// it held one of them is noticed in seconds.
const notifyHeartbeat = 15 * time.Second

// versionNotify marks runs that notify; runs started before it replay
// without the activity.
const versionNotify = "notify-webhooks"

// notifyEvent is internal/notify.Event in JSON.
type notifyEvent struct {
	Kind        string    `json:"kind"`
	Guide       string    `json:"guide"`
	Title       string    `json:"title,omitempty"`
	Environment string    `json:"environment"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to,omitempty"`
	State       string    `json:"state,omitempty"`
	Step        string    `json:"step,omitempty"`
	Section     string    `json:"section,omitempty"`
	Prompt      string    `json:"prompt,omitempty"`
	Error       string    `json:"error,omitempty"`
	At          time.Time `json:"at"`
}

// notifyStep tells the webhooks that a step waits for a person. It does not
// wait for the posts: a webhook never holds up or fails a step.
func (r *runner) notifyStep(ctx workflow.Context, st *StepStatus, prev, s StepState) {
	kind := ""
	switch {
	case prev == s:
		return
	case s == StepWaitingApproval:
		kind = "gate-waiting"
	case s == StepFailedAwaiting:
		kind = "decision-needed"
	default:
		return
	}
	if r.target.Webhooks != nil && !*r.target.Webhooks {
		// The worker has no webhooks: an activity that posts nothing would
		// only lengthen the history (and the Web UI's list) at every gate.
		return
	}
	if workflow.GetVersion(ctx, versionNotify, workflow.DefaultVersion, 1) != 1 {
		return
	}
	ev := notifyEvent{Kind: kind, Guide: r.guide.Name, Title: r.guide.Title, Environment: r.target.Environment,
		From: r.target.From, To: r.target.To, State: string(s), Step: st.Name, Section: st.Section,
		Prompt: st.Prompt, Error: st.LastError, At: workflow.Now(ctx)}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// Readable in the Web UI like the steps' own (step#try), and unique:
		// a step waits for a gate once and for a decision once per try.
		ActivityID:          fmt.Sprintf("notify/%s/%s#%d", st.Name, kind, st.Attempts),
		Summary:             "notify: " + st.Name + " " + kind,
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    notifyHeartbeat,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	workflow.ExecuteActivity(actx, ActivityNotifyOperators, ev)
}
