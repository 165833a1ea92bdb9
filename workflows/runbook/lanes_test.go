package runbook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

// laned puts steps in lane name of parallel group "fan".
func laned(name string, width int, steps ...runbook.Step) []runbook.Step {
	for i := range steps {
		steps[i].Parallel = "fan"
		steps[i].Lane = &runbook.Lane{Name: name, Width: width}
	}
	return steps
}

func TestAFailedStepPausesOnlyItsLane(t *testing.T) {
	var steps []runbook.Step
	steps = append(steps, laned("a", 2, work("backup@a"), work("upgrade@a"), work("crds@a"))...)
	steps = append(steps, laned("b", 2, work("backup@b"), flaky("upgrade@b"), work("crds@b"))...)
	steps = append(steps, laned("c", 2, work("backup@c"), work("upgrade@c"), work("crds@c"))...)
	steps = append(steps, work("verify"))
	require.NoError(t, runbook.ValidatePlan(steps))
	h := newHarness(t, steps)
	h.at(time.Minute, func() {
		st := h.status()
		s := states(st)
		// b waits for a decision; a and c (the third lane, started when a
		// finished: width 2) went on to their end; nothing after the group ran.
		require.Equal(t, runbook.StepFailedAwaiting, s["upgrade@b"])
		require.Equal(t, runbook.StepPending, s["crds@b"])
		require.Equal(t, runbook.StepDone, s["crds@a"])
		require.Equal(t, runbook.StepDone, s["crds@c"])
		require.Equal(t, runbook.StepPending, s["verify"])
		require.Equal(t, runbook.RunFailedAwaiting, st.State)
		h.flakyOK = true
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "upgrade@b", Action: runbook.ActionRetry, By: "ops"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)
	for _, n := range []string{"upgrade@a", "upgrade@c", "crds@b", "verify"} {
		require.Equal(t, 1, h.calls[n], n)
	}
	require.Equal(t, 2, h.calls["upgrade@b"])
}

func TestLanesNeedAParallelGroup(t *testing.T) {
	s := work("x")
	s.Lane = &runbook.Lane{Name: "a"}
	require.ErrorContains(t, runbook.ValidatePlan([]runbook.Step{s}), "has a lane but no Parallel group")
}
