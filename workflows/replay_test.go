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
// `temporal workflow show -w upgrade/demo/lab -o json > workflows/testdata/NAME.json`;
// the Choerodon guides' histories come from their end-to-end tests on the
// lab (with their worker kills): UPGRADER_RECORD_HISTORY=1 go test
// ./tests/integration -run 'TestChoerodon(021To022|08To09)EndToEndOnTheLab|TestBlueKing61To62EndToEndOnTheLab|TestWeCube400ReplaceWithWorkerKilledAtCoreUp'.
func TestReplayRecordedHistories(t *testing.T) {
	for _, c := range []struct{ file, workflowType string }{
		{"testdata/demo-history.json", "DemoUpgrade"},
		{"testdata/demo-killed-history.json", "DemoUpgrade"}, // the kill sweep's run: 8 workers SIGKILLed
		{"testdata/choerodon-0.21-0.22-history.json", "ChoerodonUpgrade_0_21_to_0_22"},
		{"testdata/choerodon-0.8-0.9-history.json", "ChoerodonUpgrade_0_8_to_0_9"},
		{"testdata/dce5-skoala-history.json", "DCE5SkoalaUpgrade"},
		{"testdata/wecube-4.0.0-history.json", "WeCubeUpgrade_4_0_0"},
		{"testdata/blueking-6.1-6.2-history.json", "BlueKingUpgrade_6_1_to_6_2"},
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
