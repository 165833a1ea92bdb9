package runbook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

// A gate left waiting over a week, reminding every five minutes (2,016
// reminders), keeps every run's history under 2,000 events: the run
// continues as new while it waits, carrying its progress, and the approval
// sent a week later lands on the latest run and goes on from there.
func TestGateWaitingAWeekKeepsHistoryBounded(t *testing.T) {
	start := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC) // a Friday evening
	approveAt := start.Add(7 * 24 * time.Hour)
	in := testInput{Target: target, Release: "app-good", RemindAfter: runbook.MinRemindAfter}
	now := start
	var runs, most, memos int
	var st runbook.RunStatus
	for {
		runs++
		require.Less(t, runs, 100, "the run never ended")
		h := newHarness(t, nil)
		calls := h.withInput(0)
		events := h.countEvents()
		h.env.SetStartTime(now)
		h.at(approveAt.Sub(now), func() {
			st := h.status()
			g := st.Step("approve/upgrade")
			require.Equal(t, runbook.StepWaitingApproval, g.State)
			require.True(t, g.Overdue)
			require.Equal(t, start, g.StartedAt.UTC(), "the gate has waited since the first run")
			h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "monday-oncall"})
		})
		var err error
		st, err = h.runInput(in)
		most = max(most, *events)
		memos += h.memos
		if next, ok := continued(err); ok {
			require.NotNil(t, next.Resume, "the progress is carried")
			require.Equal(t, runbook.StepWaitingApproval, next.Resume.Status.Step("approve/upgrade").State)
			in, now = next, h.env.Now()
			continue
		}
		require.NoError(t, err)
		require.Equal(t, []string{"upgrade:app-good", "verify:app-good"}, *calls)
		break
	}
	t.Logf("%d runs, at most %d events in one, %d memo upserts in all", runs, most, memos)
	require.Less(t, most, 2000)
	require.Greater(t, runs, 2)
	require.Equal(t, runbook.RunCompleted, st.State)
	require.Equal(t, runs-1, st.Continued)
	g := st.Step("approve/upgrade")
	require.Equal(t, "monday-oncall", g.Approval.By)
	require.Equal(t, runbook.StepDone, st.Step("preflight").State)
	require.Equal(t, 1, st.Step("preflight").Attempts, "done steps are not run again")
	require.Less(t, memos, 4*runs, "a reminder does not upsert the memo every tick")
}

func TestReminderPeriodHasALowerBound(t *testing.T) {
	g := gate("approve/x")
	g.Gate.RemindAfter = time.Minute
	require.ErrorContains(t, runbook.ValidatePlan([]runbook.Step{g}),
		"gate reminds every 1m0s; reminders must be at least 5m0s apart (or 0 for none)")
}

// runAcross runs a testInput to its end through every continue-as-new, each
// run in a fresh test environment that starts where the last one stopped.
// Each callback runs at its offset from the first start, in whichever run is
// live then; withOutputs activities are registered in every run.
func runAcross(t *testing.T, in testInput, limit int, at map[time.Duration]func(*harness)) (runbook.RunStatus, int, map[string]int) {
	start := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	now := start
	calls := map[string]int{}
	for runs := 1; ; runs++ {
		require.Less(t, runs, 100, "the run never ended")
		h := newHarness(t, nil)
		h.withInput(limit)
		h.withOutputs()
		h.countEvents()
		h.env.SetStartTime(now)
		for d, fn := range at {
			if start.Add(d).After(now) {
				h.at(start.Add(d).Sub(now), func() { fn(h) })
			}
		}
		st, err := h.runInput(in)
		for k, v := range h.calls {
			calls[k] += v
		}
		if next, ok := continued(err); ok {
			in, now = next, h.env.Now()
			continue
		}
		require.NoError(t, err)
		return st, runs, calls
	}
}

// A run continues as new while an expansion is done and a gate waits, and
// again while a failed step waits for a decision: the expanded steps are
// rebuilt (not run again) and each waiting step goes on where it was.
func TestContinueAsNewCarriesExpansionsAndPausedSteps(t *testing.T) {
	in := testInput{Target: target, Release: "app-good", RemindAfter: runbook.MinRemindAfter,
		Plugins: []string{"a", "c"}, AskVerify: true}
	st, runs, calls := runAcross(t, in, 80, map[time.Duration]func(*harness){
		2 * time.Hour: func(h *harness) {
			st := h.status()
			require.Greater(t, st.Continued, 0)
			require.Equal(t, runbook.StepDone, st.Step("reregister-plugin/c").State)
			h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "op"})
		},
		4 * time.Hour: func(h *harness) {
			h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "verify/app", By: "op"})
		},
		8 * time.Hour: func(h *harness) {
			st := h.status()
			s := st.Step("verify/app")
			require.Equal(t, runbook.StepFailedAwaiting, s.State)
			require.Contains(t, s.LastError, "service not UP")
			h.flakyOK = true
			h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "verify/app", Action: runbook.ActionRetry, By: "op"})
		},
	})
	t.Logf("%d runs", runs)
	require.Equal(t, runbook.RunCompleted, st.State)
	require.Greater(t, runs, 3)
	require.Equal(t, map[string]int{"preflight": 1, "a": 1, "c": 1, "verify/app": 2}, calls)
	v := st.Step("verify/app")
	require.Equal(t, 2, v.Attempts)
	require.Equal(t, "op", v.Approval.By)
	require.Equal(t, "retry", v.Decisions[0].Action)
	require.Equal(t, "reregister-plugin", st.Step("reregister-plugin/a").Parent)
}

// A run continues as new while an expanded step waits at its gate: the
// placeholder goes on with its steps (not its checks again), the step done
// before is not run again.
func TestContinueAsNewWhileAnExpandedStepWaits(t *testing.T) {
	in := testInput{Target: target, Release: "app-good", RemindAfter: runbook.MinRemindAfter,
		Plugins: []string{"a", "c"}, AskPlugins: true}
	st, runs, calls := runAcross(t, in, 60, map[time.Duration]func(*harness){
		time.Minute: func(h *harness) {
			h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "reregister-plugin/a", By: "op"})
		},
		3 * time.Hour: func(h *harness) {
			st := h.status()
			require.Greater(t, st.Continued, 0)
			require.Equal(t, runbook.StepRunning, st.Step("reregister-plugin").State)
			require.Equal(t, runbook.StepWaitingApproval, st.Step("reregister-plugin/c").State)
			require.Equal(t, "reregister-plugin/c", st.CurrentStep)
			h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "reregister-plugin/c", By: "op"})
		},
		// Not on a reminder's tick: an Update that lands in the same task as
		// the continue-as-new is lost by the test environment.
		4*time.Hour + time.Minute: func(h *harness) {
			h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "op"})
		},
	})
	require.Equal(t, runbook.RunCompleted, st.State)
	require.Greater(t, runs, 2)
	require.Equal(t, map[string]int{"preflight": 1, "a": 1, "c": 1}, calls)
	require.Equal(t, "2 steps from list-plugins: 2 done", st.Step("reregister-plugin").Result)
}
