package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"upgrader/internal/contract"
	"upgrader/internal/notify"
)

// Notify posts a run's moments that need people to the worker's webhooks
// (internal/notify). It never fails: a webhook that does not answer is
// logged and named in the result, and the step goes on.
type Notify struct {
	Sender *notify.Sender
}

// NotifyOperators posts ev to every webhook that wants it.
func (n *Notify) NotifyOperators(ctx context.Context, ev notify.Event) (contract.Outcome, error) {
	if n == nil || n.Sender == nil || len(n.Sender.Webhooks) == 0 {
		return contract.Outcome{Summary: "no webhooks configured"}, nil
	}
	if ev.WorkflowID == "" {
		ev.WorkflowID = activity.GetInfo(ctx).WorkflowExecution.ID
	}
	var errs []error
	_ = whileHeartbeating(ctx, nil, func(ctx context.Context) error { errs = n.Sender.Send(ctx, ev); return nil })
	for _, err := range errs {
		activity.GetLogger(ctx).Warn("a webhook failed; the run goes on", "event", ev.Kind, "step", ev.Step, "error", err)
	}
	if len(errs) > 0 {
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		return contract.Outcome{Summary: fmt.Sprintf("%s: %d webhooks failed: %s", ev.Kind, len(errs), strings.Join(msgs, "; "))}, nil
	}
	return contract.Outcome{Summary: fmt.Sprintf("%s posted to %d webhooks", ev.Kind, len(n.Sender.Webhooks))}, nil
}

// NotifyOperators heartbeats while webhooks answer; the runbook runs it
// with NotifyHeartbeat (workflows/runbook/notify.go).
var _ = contract.Declare((*Notify).NotifyOperators, contract.Options{Heartbeat: NotifyHeartbeat, Timeout: time.Minute})

// NotifyHeartbeat is the heartbeat timeout of NotifyOperators and
// WriteRunReport; the runbook, which names them by string, uses the same
// (notifyHeartbeat in workflows/runbook/notify.go).
const NotifyHeartbeat = 15 * time.Second
