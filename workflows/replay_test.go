package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs on
// the dev server against today's workflow code. A change to a guide or the
// runbook that would break runs already in flight (a step added, removed or
// reordered without workflow.GetVersion) fails here.
//
// To record a new one: run `starter demo --auto-approve`, then
// `temporal workflow show -w upgrade/demo/lab -o json > workflows/testdata/NAME.json`.
func TestReplayRecordedHistories(t *testing.T) {
	for _, c := range []struct{ file, workflowType string }{
		{"testdata/demo-history.json", "DemoUpgrade"},
	} {
		t.Run(c.file, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			for _, g := range workflows.Guides() {
				r.RegisterWorkflowWithOptions(g.Workflow, workflow.RegisterOptions{Name: g.WorkflowType})
			}
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, c.file))
		})
	}
}
