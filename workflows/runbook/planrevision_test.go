package runbook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"upgrader/workflows/runbook"
)

// A guide whose plan was revised runs a new run on its newest plan and a
// run that started before the revision (a worker upgraded while the run
// waited at a gate: GetVersion finds no marker) on the plan it started
// with, and either keeps its revision through a corrected config: had the
// corrected config been planned at another revision, its first step would
// differ from the one that ran, and it would be refused.
func TestARunKeepsThePlanRevisionItStartedWith(t *testing.T) {
	revised := guide
	revised.PlanRevision = 2
	for _, tc := range []struct {
		name      string
		replayOld bool
		want      int
		first     string
	}{
		{"a new run takes the newest plan", false, 2, "preflight"},
		{"a run from before the revision keeps the original plan", true, runbook.OriginalPlan, "preflight/original"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput{Target: target, Release: "app-old"}
			h := newHarness(t, nil)
			h.guide = &revised
			h.withInput(0)
			if tc.replayOld {
				h.env.OnGetVersion(runbook.PlanVersionID, workflow.DefaultVersion, workflow.Version(2)).Return(workflow.DefaultVersion)
			}
			h.at(time.Minute, func() {
				h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "op"})
			})
			h.at(2*time.Minute, func() {
				good := in
				good.Release = "app-good"
				h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op",
					Comment: "release fixed", Config: mustJSON(good)})
			})
			st, err := h.runInput(in)
			require.NoError(t, err)
			require.Equal(t, tc.want, st.Target.PlanRevision)
			require.Equal(t, tc.first, st.Steps[0].Name)
			require.Equal(t, 1, h.calls[tc.first])
			require.Len(t, st.ConfigChanges, 1, "the corrected config was taken")
		})
	}
}
