package runbook_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"upgrader/internal/contract"
	"upgrader/workflows/runbook"
)

// lostHarness adds "Lost": its first `lose` attempts end as a lost worker
// does (a heartbeat timeout whose last details are the attempt's number);
// it records what each attempt found as its prior progress.
func lostHarness(t *testing.T, lose int, steps []runbook.Step) (*harness, *[]string) {
	h := newHarness(t, steps)
	h.env.SetContextPropagators([]workflow.ContextPropagator{contract.CarryPropagator(nil)})
	var seen []string
	n := 0
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in workIn) (runbook.Outcome, error) {
		n++
		prior := "-"
		if b, ok := contract.Carried(ctx); ok {
			prior = string(b)
		}
		seen = append(seen, prior)
		if n <= lose {
			return runbook.Outcome{}, temporal.NewHeartbeatTimeoutError(n)
		}
		return runbook.Outcome{Summary: "done after " + strconv.Itoa(n)}, nil
	}, activity.RegisterOptions{Name: "Lost"})
	return h, &seen
}

func lostStep(name string) runbook.Step {
	return runbook.Step{Name: name, Kind: runbook.KindHelm, Summary: "upgrade " + name, Activity: "Lost",
		Input: workIn{Label: name}, MaxAttempts: 1}
}

func TestALostWorkerStartsANewTryWithoutAPerson(t *testing.T) {
	h, seen := lostHarness(t, 3, []runbook.Step{work("before"), lostStep("upgrade/x"), work("after")})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)
	x := st.Step("upgrade/x")
	require.Equal(t, runbook.StepDone, x.State)
	require.Equal(t, 4, x.Attempts)
	require.Equal(t, 3, x.WorkerLost)
	require.Empty(t, x.Decisions)
	require.Equal(t, "done after 4", x.Result)
	for i, tr := range x.Tries {
		require.Equal(t, i < 3, tr.WorkerLost, "try %d", tr.Try)
	}
	// Each new try gets the lost one's last heartbeat details; the first none.
	require.Equal(t, []string{"-", "1", "2", "3"}, *seen)
	require.Equal(t, 1, h.calls["after"])
}

func TestALostWorkerTooOftenPausesTheStep(t *testing.T) {
	h, _ := lostHarness(t, 1000, []runbook.Step{lostStep("upgrade/x"), work("after")})
	h.at(time.Hour, func() {
		st := h.status()
		x := st.Step("upgrade/x")
		require.Equal(t, runbook.StepFailedAwaiting, x.State)
		require.Equal(t, runbook.MaxWorkerLost, x.WorkerLost)
		require.Equal(t, runbook.MaxWorkerLost+1, x.Attempts)
		require.Contains(t, x.LastError, "timed out (heartbeat)")
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/x", Action: runbook.ActionAbort, By: "hal", Comment: "the node keeps dying"})
	})
	_, err := h.run()
	require.ErrorContains(t, err, "hal aborted the upgrade at step upgrade/x")
	require.Zero(t, h.calls["after"])
}

func TestAFailureThatIsNoLostWorkerStillPauses(t *testing.T) {
	h := newHarness(t, []runbook.Step{flaky("migrate")})
	h.at(time.Minute, func() {
		st := h.status()
		x := st.Step("migrate")
		require.Equal(t, runbook.StepFailedAwaiting, x.State)
		require.Zero(t, x.WorkerLost)
		h.flakyOK = true
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "migrate", Action: runbook.ActionRetry, By: "hal"})
	})
	st, err := h.run()
	require.NoError(t, err)
	m := st.Steps[0]
	require.Equal(t, runbook.StepDone, m.State)
	require.Equal(t, 2, m.Attempts)
	require.Len(t, m.Decisions, 1)
}
