package runbook_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"upgrader/workflows/runbook"
)

// notifyCount runs backup → gate → delete for tgt, approving at the gate,
// and counts the NotifyOperators activities the run scheduled.
func notifyCount(t *testing.T, tgt runbook.Target) int {
	t.Helper()
	h := newHarnessFor(t, tgt, []runbook.Step{work("backup"), gate("approve/delete"), work("delete")})
	posts := 0
	h.env.RegisterActivityWithOptions(func(ctx context.Context, ev map[string]any) error {
		posts++
		return nil
	}, activity.RegisterOptions{Name: runbook.ActivityNotifyOperators})
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/delete", By: "alice", Comment: "ok"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)
	return posts
}

// A worker without webhooks (the starter says so in Target.Webhooks) gets
// no notification scheduled at a gate; with webhooks, and for runs started
// before the field existed (nil), the gate is posted as before.
func TestGateNotifiesOnlyWhenTheWorkerHasWebhooks(t *testing.T) {
	yes, no := true, false
	with, without, unknown := target, target, target
	with.Webhooks, without.Webhooks = &yes, &no
	require.Equal(t, 1, notifyCount(t, with), "webhooks configured: the gate is posted")
	require.Equal(t, 0, notifyCount(t, without), "no webhooks: nothing scheduled")
	require.Equal(t, 1, notifyCount(t, unknown), "a run started before Target.Webhooks notifies as it did")
}
