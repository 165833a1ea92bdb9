package runbook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"

	"upgrader/workflows/runbook"
)

// currentDetails reads what the Web UI shows as the run's current details.
func (h *harness) currentDetails() string {
	h.t.Helper()
	v, err := h.env.QueryWorkflow("__temporal_workflow_metadata")
	require.NoError(h.t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(h.t, v.Get(&md))
	return md.GetCurrentDetails()
}

// The Web UI's summary of a run waiting at a gate says what a person must
// do next: the prompt, who may answer, that the starter may not approve a
// destructive gate, and the exact command; a failed step says how to decide.
func TestCurrentDetailsSayWhatToDoNext(t *testing.T) {
	tgt := target
	tgt.StartedBy = &runbook.Identity{Name: "bob", Source: "os-user"}
	tgt.Approvers = &runbook.Approvers{Destructive: []string{"alice", "carol"}}
	del := gate("approve/delete")
	del.Gate.Destructive = true
	h := newHarnessFor(t, tgt, []runbook.Step{work("backup"), del, {Name: "check/up", Kind: runbook.KindCheck, Summary: "check",
		Activity: "Flaky", Input: workIn{Label: "up"}}})
	var atGate, atFailure string
	h.at(time.Minute, func() {
		atGate = h.currentDetails()
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/delete", By: "alice", Comment: "ok"})
	})
	h.at(time.Hour, func() {
		atFailure = h.currentDetails()
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "check/up", Action: runbook.ActionAbort, By: "alice", Comment: "stop"})
	})
	_, _ = h.run()
	require.Contains(t, atGate, "1 of 3 steps finished")
	require.Contains(t, atGate, "`approve/delete` waits for approval: ok to go on?")
	require.Contains(t, atGate, "Who may answer (approvers.destructive): alice, carol.")
	require.Contains(t, atGate, "someone other than bob, who started the run, approves")
	require.Contains(t, atGate, "`starter approve default-test-workflow-id approve/delete --comment \"…\"`")
	require.Contains(t, atFailure, "`check/up` failed: service not UP: HTTP 503")
	require.Contains(t, atFailure, "`starter decide default-test-workflow-id check/up retry`")
}
