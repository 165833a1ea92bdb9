package runbook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

// A run paused on a bad config value is retried with a corrected config:
// the failed step and every later one use it, done steps keep their
// results, and the change is recorded in the status, the memo and the
// answer. A corrected config that is wrong is refused whole, with the key.
func TestRetryWithACorrectedConfig(t *testing.T) {
	in := testInput{Target: target, Release: "app-old"}
	h := newHarness(t, nil)
	calls := h.withInput(0)
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "op"})
	})
	h.at(2*time.Minute, func() {
		st := h.status()
		s := st.Step("upgrade/app")
		require.Equal(t, runbook.StepFailedAwaiting, s.State)
		require.Contains(t, s.LastError, "release app-old not found")

		bad := in
		bad.Release = "App Old"
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op",
			Config: mustJSON(bad)}, `corrected config refused: invalid config:
  - release: "App Old" is not a release name`)
		started := in
		started.Release, started.Extra = "app-good", true
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op",
			Config: mustJSON(started)}, "it changes the steps that have started: step 2 would be extra/check, the run has approve/upgrade there")
		otherEnv := in
		otherEnv.Environment = "prod"
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op",
			Config: mustJSON(otherEnv)}, "environment and versions cannot change within a run")
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op",
			Config: mustJSON(in)}, "the same as the run's")
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionSkip, By: "op",
			Comment: "x", Config: mustJSON(in)}, "only retry carries a corrected config")
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op",
			Config: []byte(`{"release": "app-good", "releasse": "x"}`)}, `unknown field "releasse"`)

		good := in
		good.Release, good.Verify = "app-good", true // a new step after the frontier is fine
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op",
			Comment: "mapping fixed", Config: mustJSON(good)})
	})
	st, err := h.runInput(in)
	require.NoError(t, err)
	require.Equal(t, []string{"upgrade:app-old", "upgrade:app-good", "verify:app-good"}, *calls)
	require.Equal(t, 1, h.calls["verify/extra"], "the step the corrected config added ran")
	require.Equal(t, 1, h.calls["preflight"], "done steps are not run again")
	require.Equal(t, "upgrade app-good", st.Step("upgrade/app").Summary)

	require.Len(t, st.ConfigChanges, 1)
	c := st.ConfigChanges[0]
	require.Equal(t, "upgrade/app", c.Step)
	require.Equal(t, "retry", c.Action)
	require.Equal(t, []runbook.KeyChange{{Key: "release", Old: "app-old", New: "app-good"}, {Key: "verify", New: "true"}}, c.Changes)
	require.Equal(t, []string{"release", "verify"}, st.Step("upgrade/app").Decisions[0].Config)
	memo := h.lastMemo["configChanges"].([]string)
	require.Len(t, memo, 1)
	require.Contains(t, memo[0], "op (retry upgrade/app): release: app-old → app-good; verify: (none) → true")
	require.Empty(t, st.Notices)
}

// An approval can carry a corrected config too: the gated step runs with it.
func TestApproveWithACorrectedConfig(t *testing.T) {
	in := testInput{Target: target, Release: "app-old"}
	h := newHarness(t, nil)
	calls := h.withInput(0)
	h.at(time.Minute, func() {
		good := in
		good.Release = "app-good"
		h.updateErr(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "op", Reject: true, Comment: "no",
			Config: mustJSON(good)}, "a rejection carries no corrected config")
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "op", Config: mustJSON(good)})
	})
	st, err := h.runInput(in)
	require.NoError(t, err)
	require.Equal(t, []string{"upgrade:app-good", "verify:app-good"}, *calls)
	require.Equal(t, "upgrade app-good?", st.Step("approve/upgrade").Prompt)
	v, err := h.env.QueryWorkflow(runbook.QueryConfig)
	require.NoError(t, err)
	var now testInput
	require.NoError(t, v.Get(&now))
	require.Equal(t, "app-good", now.Release, "the config query answers the corrected config")
}

// A run started with runbook.Run knows no config, so it refuses one.
func TestRunWithoutInputRefusesACorrectedConfig(t *testing.T) {
	h := newHarness(t, []runbook.Step{flaky("wait")})
	h.at(time.Minute, func() {
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "wait", Action: runbook.ActionRetry, By: "op",
			Config: []byte(`{}`)}, "this run takes no corrected config")
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "wait", Action: runbook.ActionAbort, By: "op", Comment: "done"})
	})
	_, err := h.run()
	require.Error(t, err)
}

// A corrected config sent while an expanded step waits rebuilds the steps
// of the expansion not done yet, under the same names.
func TestCorrectedConfigDuringAnExpansion(t *testing.T) {
	in := testInput{Target: target, Release: "app-old", Plugins: []string{"a", "b"}, AskPlugins: true}
	h := newHarness(t, nil)
	calls := h.withInput(0)
	h.withOutputs()
	h.at(time.Minute, func() {
		fixed := in
		fixed.Release = "app-good"
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "reregister-plugin/a", By: "op", Config: mustJSON(fixed)})
	})
	h.at(2*time.Minute, func() {
		st := h.status()
		require.Equal(t, runbook.StepDone, st.Step("reregister-plugin/a").State)
		require.Equal(t, runbook.StepWaitingApproval, st.Step("reregister-plugin/b").State)
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "reregister-plugin/b", By: "op"})
	})
	h.at(3*time.Minute, func() {
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "op"})
	})
	st, err := h.runInput(in)
	require.NoError(t, err)
	require.Equal(t, []string{"upgrade:app-good", "verify:app-good"}, *calls)
	require.Equal(t, map[string]int{"preflight": 1, "a": 1, "b": 1}, h.calls)
	require.Len(t, st.ConfigChanges, 1)
}
