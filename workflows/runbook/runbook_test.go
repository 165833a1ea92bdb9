package runbook_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"upgrader/workflows/runbook"
)

var guide = runbook.Guide{Name: "test", Title: "Test guide"}
var target = runbook.Target{Environment: "lab", From: "1", To: "2"}

// harness runs a list of steps in the test environment, with two
// activities: "Work" always succeeds, "Flaky" fails until told otherwise.
type harness struct {
	testsuite.WorkflowTestSuite
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	flakyOK  bool
	calls    map[string]int
	upserts  []map[string]string
	lastMemo map[string]any
	memos    int
	expect   []*expectation
	// onEvent, when set, is called after every upsert (see countEvents).
	onEvent func()
	// limit is the HistoryLimit of TestInputUpgrade runs.
	limit int
	// guide, when set, is the guide TestInputUpgrade runs (default: guide).
	guide *runbook.Guide
}

type workIn struct{ Label string }

func newHarness(t *testing.T, steps []runbook.Step) *harness {
	return newHarnessFor(t, target, steps)
}

// newHarnessFor is newHarness for a run of target tgt (who started it,
// approvers).
func newHarnessFor(t *testing.T, tgt runbook.Target, steps []runbook.Step) *harness {
	h := &harness{t: t, calls: map[string]int{}}
	h.env = h.NewTestWorkflowEnvironment()
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in workIn) (runbook.Outcome, error) {
		h.calls[in.Label]++
		return runbook.Outcome{Summary: "did " + in.Label}, nil
	}, activity.RegisterOptions{Name: "Work"})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in workIn) (runbook.Outcome, error) {
		h.calls[in.Label]++
		if !h.flakyOK {
			return runbook.Outcome{}, temporal.NewNonRetryableApplicationError("service not UP: HTTP 503", "NotReady", nil)
		}
		return runbook.Outcome{Summary: "up"}, nil
	}, activity.RegisterOptions{Name: "Flaky"})
	h.env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (runbook.RunStatus, error) {
		return runbook.Run(ctx, guide, tgt, steps)
	}, workflow.RegisterOptions{Name: "TestUpgrade"})
	h.registerInputWorkflow()
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		m := map[string]string{}
		for k, v := range sa.GetUntypedValues() {
			m[k.GetName()] = v.(string)
		}
		h.upserts = append(h.upserts, m)
		if h.onEvent != nil {
			h.onEvent()
		}
	}).Return(nil)
	h.env.OnUpsertMemo(mock.Anything).Run(func(args mock.Arguments) {
		// Upserts merge into the memo, key by key, as on the server.
		if h.lastMemo == nil {
			h.lastMemo = map[string]any{}
		}
		for k, v := range args.Get(0).(map[string]any) {
			h.lastMemo[k] = v
		}
		h.memos++
		if h.onEvent != nil {
			h.onEvent()
		}
	}).Return(nil)
	return h
}

func (h *harness) status() runbook.RunStatus {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(runbook.QueryStatus)
	require.NoError(h.t, err)
	var st runbook.RunStatus
	require.NoError(h.t, v.Get(&st))
	return st
}

// expectation is an Update whose answer is checked when the run ends: the
// test environment answers Updates asynchronously.
type expectation struct {
	name, want string // want "" means accepted
	answered   bool
	err        error
}

// updateOK sends an Update that must be accepted.
func (h *harness) updateOK(name string, arg any) { h.update(name, arg, "") }

// updateErr sends an Update that must be refused with an error containing want.
func (h *harness) updateErr(name string, arg any, want string) { h.update(name, arg, want) }

func (h *harness) update(name string, arg any, want string) {
	e := &expectation{name: name, want: want}
	h.expect = append(h.expect, e)
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(err error) { e.err, e.answered = err, true },
		OnComplete: func(_ any, err error) { e.err, e.answered = err, true },
	}, arg)
}

func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

func (h *harness) run() (runbook.RunStatus, error) {
	h.env.ExecuteWorkflow("TestUpgrade")
	require.True(h.t, h.env.IsWorkflowCompleted())
	for _, e := range h.expect {
		require.True(h.t, e.answered, "update %s was never answered", e.name)
		if e.want == "" {
			require.NoError(h.t, e.err, "update %s", e.name)
		} else {
			require.ErrorContains(h.t, e.err, e.want, "update %s", e.name)
		}
	}
	var st runbook.RunStatus
	err := h.env.GetWorkflowError()
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&st))
	}
	return st, err
}

func work(name string) runbook.Step {
	return runbook.Step{Name: name, Kind: runbook.KindCheck, Summary: "work " + name, Activity: "Work", Input: workIn{Label: name}}
}

func gate(name string) runbook.Step {
	return runbook.Step{Name: name, Kind: runbook.KindGate, Summary: "ask", Gate: &runbook.Gate{Prompt: "ok to go on?"}}
}

func states(st runbook.RunStatus) map[string]runbook.StepState {
	m := map[string]runbook.StepState{}
	for _, s := range st.Steps {
		m[s.Name] = s.State
	}
	return m
}

func TestStepsRunInOrderAndProgressIsPublished(t *testing.T) {
	h := newHarness(t, []runbook.Step{work("a"), work("b"), work("c")})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)
	for _, s := range st.Steps {
		require.Equal(t, runbook.StepDone, s.State, s.Name)
		require.Equal(t, 1, s.Attempts)
		require.Equal(t, "did "+s.Name, s.Result)
		require.False(t, s.StartedAt.IsZero())
	}
	require.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, h.calls)
	// The first upsert carries every attribute; the last says completed.
	first, last := h.upserts[0], h.upserts[len(h.upserts)-1]
	require.Equal(t, "test", first["UpgradeGuide"])
	require.Equal(t, "lab", first["UpgradeEnvironment"])
	require.Equal(t, "1", first["UpgradeFrom"])
	require.Equal(t, "2", first["UpgradeTo"])
	require.Equal(t, "completed", last["UpgradeState"])
	require.Equal(t, "Test guide", h.lastMemo["title"])
	var sawStep bool
	for _, u := range h.upserts {
		if u["UpgradeStep"] == "b" && u["UpgradeState"] == "running" {
			sawStep = true
		}
	}
	require.True(t, sawStep, "current step b was published: %v", h.upserts)
}

func TestApprovalByUpdateRecordsWhoAndWhen(t *testing.T) {
	h := newHarness(t, []runbook.Step{work("backup"), gate("approve/delete"), work("delete")})
	h.at(time.Minute, func() {
		st := h.status()
		require.Equal(t, runbook.RunWaitingApproval, st.State)
		require.Equal(t, "approve/delete", st.CurrentStep)
		require.Equal(t, runbook.StepPending, states(st)["delete"])
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/delete", By: "alice", Comment: "backup checked"})
	})
	st, err := h.run()
	require.NoError(t, err)
	g := st.Step("approve/delete")
	require.Equal(t, runbook.StepDone, g.State)
	require.Equal(t, "alice", g.Approval.By)
	require.Equal(t, "approve", g.Approval.Action)
	require.Equal(t, "backup checked", g.Approval.Comment)
	require.Equal(t, "update", g.Approval.Via)
	require.False(t, g.Approval.At.IsZero())
	require.Equal(t, 1, h.calls["delete"])
}

func TestApprovalBySignal(t *testing.T) {
	h := newHarness(t, []runbook.Step{gate("approve/go"), work("after")})
	h.at(time.Minute, func() {
		// A signal for a step that is not waiting is recorded, not applied.
		h.env.SignalWorkflow(runbook.SignalApprove, runbook.Approval{Step: "after", By: "bob"})
		h.env.SignalWorkflow(runbook.SignalApprove, runbook.Approval{Step: "approve/go", By: "bob"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, "signal", st.Step("approve/go").Approval.Via)
	require.Len(t, st.Notices, 1)
	require.Contains(t, st.Notices[0], `step "after" is pending, not waiting for approval`)
}

func TestRejectingARequiredGateEndsTheRunBeforeTheStep(t *testing.T) {
	h := newHarness(t, []runbook.Step{work("backup"), gate("approve/delete"), work("delete")})
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/delete", Reject: true, By: "carol", Comment: "backup incomplete"})
	})
	_, err := h.run()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	require.Equal(t, runbook.ErrRejected, app.Type())
	require.Contains(t, app.Error(), "carol rejected step approve/delete: backup incomplete")
	var st runbook.RunStatus
	require.NoError(t, app.Details(&st))
	require.Equal(t, runbook.RunRejected, st.State)
	require.Equal(t, runbook.StepRejected, states(st)["approve/delete"])
	require.Equal(t, runbook.StepNotRunAfterAbort, states(st)["delete"])
	require.Zero(t, h.calls["delete"])
}

func TestRejectingAnOptionalGateSkipsTheStep(t *testing.T) {
	opt := work("optional")
	opt.Gate = &runbook.Gate{Prompt: "run the optional fix?", SkipOnReject: true}
	h := newHarness(t, []runbook.Step{opt, work("after")})
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "optional", Reject: true, By: "dan", Comment: "not needed"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.StepSkipped, states(st)["optional"])
	require.Zero(t, h.calls["optional"])
	require.Equal(t, 1, h.calls["after"])
}

func TestGateReminderMarksOverdueAndKeepsWaiting(t *testing.T) {
	g := gate("approve/slow")
	g.Gate.RemindAfter = time.Hour
	h := newHarness(t, []runbook.Step{g, work("after")})
	h.at(3*time.Hour+time.Minute, func() {
		st := h.status()
		require.True(t, st.Step("approve/slow").Overdue)
		require.Contains(t, h.lastMemo["reminder"], "approve/slow has been waiting-approval since")
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/slow", By: "erin"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.False(t, st.Step("approve/slow").Overdue)
	require.Equal(t, 1, h.calls["after"])
}

func flaky(name string) runbook.Step {
	return runbook.Step{Name: name, Kind: runbook.KindWait, Summary: "wait", Activity: "Flaky", Input: workIn{Label: name}}
}

func TestFailedStepPausesThenRetrySucceeds(t *testing.T) {
	h := newHarness(t, []runbook.Step{flaky("wait-up/iam"), work("after")})
	h.at(time.Minute, func() {
		st := h.status()
		require.Equal(t, runbook.RunFailedAwaiting, st.State)
		s := st.Step("wait-up/iam")
		require.Equal(t, runbook.StepFailedAwaiting, s.State)
		require.Equal(t, "service not UP: HTTP 503 [NotReady]", s.LastError)
		require.Zero(t, h.calls["after"], "nothing after a failed step runs")
		h.flakyOK = true
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "wait-up/iam", Action: runbook.ActionRetry, By: "frank"})
	})
	st, err := h.run()
	require.NoError(t, err)
	s := st.Step("wait-up/iam")
	require.Equal(t, runbook.StepDone, s.State)
	require.Equal(t, 2, s.Attempts)
	require.Empty(t, s.LastError)
	require.Equal(t, "retry", s.Decisions[0].Action)
	require.Equal(t, 1, h.calls["after"])
}

func TestFailedStepSkipNeedsACommentAndGoesOn(t *testing.T) {
	h := newHarness(t, []runbook.Step{flaky("wait-up/iam"), work("after")})
	h.at(time.Minute, func() {
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "wait-up/iam", Action: runbook.ActionSkip, By: "gina"}, "skip needs a comment")
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "wait-up/iam", Action: runbook.ActionSkip, By: "gina", Comment: "checked by hand"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.StepSkipped, states(st)["wait-up/iam"])
	require.Equal(t, "checked by hand", st.Step("wait-up/iam").Decisions[0].Comment)
	require.Equal(t, 1, h.calls["after"])
}

func TestFailedStepAbortEndsWithSummary(t *testing.T) {
	h := newHarness(t, []runbook.Step{work("first"), flaky("migrate"), work("after")})
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "migrate", Action: runbook.ActionAbort, By: "hal", Comment: "exception in migration log"})
	})
	_, err := h.run()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	require.Equal(t, runbook.ErrAborted, app.Type())
	msg := app.Error()
	require.Contains(t, msg, "hal aborted the upgrade at step migrate: exception in migration log")
	require.Contains(t, msg, "last error: service not UP")
	require.Regexp(t, `done\s+first`, msg)
	require.Regexp(t, `aborted\s+migrate`, msg)
	require.Regexp(t, `not-run\s+after`, msg)
	require.Zero(t, h.calls["after"])
}

func TestUpdateValidatorRejectsWhatCannotApply(t *testing.T) {
	h := newHarness(t, []runbook.Step{gate("approve/go"), flaky("wait"), work("after")})
	h.at(time.Minute, func() {
		for _, c := range []struct {
			name string
			arg  any
			want string
		}{
			{runbook.UpdateApprove, runbook.Approval{Step: "nope", By: "x"}, `unknown step "nope"; steps waiting for a person now: approve/go (waiting-approval)`},
			{runbook.UpdateApprove, runbook.Approval{Step: "after", By: "x"}, `step "after" is pending, not waiting for approval`},
			{runbook.UpdateApprove, runbook.Approval{Step: "approve/go"}, "say who answers"},
			{runbook.UpdateApprove, runbook.Approval{Step: "approve/go", By: "x", Reject: true}, "a rejection needs a comment"},
			{runbook.UpdateDecide, runbook.Decision{Step: "approve/go", Action: runbook.ActionRetry, By: "x"}, "not failed and waiting for a decision"},
		} {
			h.updateErr(c.name, c.arg, c.want)
		}
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/go", By: "x"})
	})
	h.at(2*time.Minute, func() {
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "wait", Action: "reboot", By: "x"}, `unknown action "reboot"`)
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "wait", Action: runbook.ActionRetry}, "say who decides")
		h.flakyOK = true
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "wait", Action: runbook.ActionRetry, By: "x"})
	})
	_, err := h.run()
	require.NoError(t, err)
}

func TestDestructiveStepWaitsForItsBackup(t *testing.T) {
	del := work("delete-release/base")
	del.Requires = []string{"backup-values/base"}
	h := newHarness(t, []runbook.Step{flaky("backup-values/base"), del})
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "backup-values/base", Action: runbook.ActionSkip, By: "ivy", Comment: "try without"})
	})
	h.at(2*time.Minute, func() {
		st := h.status()
		s := st.Step("delete-release/base")
		require.Equal(t, runbook.StepFailedAwaiting, s.State)
		require.Contains(t, s.LastError, "needs backup-values/base (skipped) done first")
		require.Zero(t, h.calls["delete-release/base"])
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "delete-release/base", Action: runbook.ActionAbort, By: "ivy", Comment: "no backup, no delete"})
	})
	_, err := h.run()
	require.Error(t, err)
	require.Zero(t, h.calls["delete-release/base"], "the delete never ran without its backup")
}

func TestParallelStepsRunTogether(t *testing.T) {
	a, b := work("upgrade/a"), work("upgrade/b")
	a.Parallel, b.Parallel = "upgrade", "upgrade"
	f := flaky("upgrade/c")
	f.Parallel = "upgrade"
	h := newHarness(t, []runbook.Step{a, b, f, work("after")})
	h.at(time.Minute, func() {
		st := h.status()
		require.Equal(t, runbook.StepDone, states(st)["upgrade/a"])
		require.Equal(t, runbook.StepDone, states(st)["upgrade/b"])
		require.Equal(t, runbook.StepFailedAwaiting, states(st)["upgrade/c"])
		require.Zero(t, h.calls["after"])
		h.flakyOK = true
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/c", Action: runbook.ActionRetry, By: "x"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)
	require.Equal(t, 1, h.calls["after"])
}

func TestInvalidPlanFailsBeforeAnyStep(t *testing.T) {
	bad := work("delete")
	bad.Requires = []string{"backup"}
	err := runbook.ValidatePlan([]runbook.Step{bad, work("Bad Name"), work("delete"), {Name: "g", Kind: runbook.KindGate, Gate: &runbook.Gate{}}})
	require.Error(t, err)
	for _, want := range []string{
		`requires "backup", which is not an earlier step`,
		"name must be lower-case",
		"same name as step 1",
		"gate without a prompt",
	} {
		require.True(t, strings.Contains(err.Error(), want), "%q missing from %v", want, err)
	}
	h := newHarness(t, []runbook.Step{bad})
	_, err = h.run()
	require.ErrorContains(t, err, "invalid plan")
	require.Zero(t, h.calls["delete"])
}

// A recovery step runs only when an operator skipped the step it repairs.
func TestOnlyIfSkippedRunsOnlyAfterASkip(t *testing.T) {
	repair := work("repair")
	repair.OnlyIfSkipped = "check"
	flaky := runbook.Step{Name: "check", Kind: runbook.KindWait, Summary: "wait", Activity: "Flaky", Input: workIn{Label: "check"}}

	h := newHarness(t, []runbook.Step{flaky, repair})
	h.flakyOK = true
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.StepSkipped, st.Step("repair").State)
	require.Equal(t, "not needed: check is done", st.Step("repair").Result)
	require.Zero(t, h.calls["repair"])

	h = newHarness(t, []runbook.Step{flaky, repair})
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "check", Action: runbook.ActionSkip, By: "op", Comment: "line never came"})
	})
	st, err = h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.StepDone, st.Step("repair").State)
	require.Equal(t, 1, h.calls["repair"])

	bad := work("x")
	bad.OnlyIfSkipped = "later"
	require.ErrorContains(t, runbook.ValidatePlan([]runbook.Step{bad, work("later")}), `onlyIfSkipped "later" is not an earlier step`)
}

// TestGateShowsWhatEarlierStepsFound: a gate that shows a check puts the
// check's result in its prompt when it opens, so the person reads it there.
func TestGateShowsWhatEarlierStepsFound(t *testing.T) {
	g := gate("approve/migrate")
	g.Gate.Show = []string{"check"}
	h := newHarness(t, []runbook.Step{work("check"), g, work("migrate")})
	h.at(time.Minute, func() {
		st := h.status()
		require.Equal(t, "approve/migrate", st.CurrentStep)
		require.Contains(t, st.Step("approve/migrate").Prompt, "ok to go on?")
		require.Contains(t, st.Step("approve/migrate").Prompt, "--- check (done): did check")
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/migrate", By: "alice", Comment: "read it"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)

	bad := gate("approve/x")
	bad.Gate.Show = []string{"later"}
	err = runbook.ValidatePlan([]runbook.Step{bad, work("later")})
	require.ErrorContains(t, err, `gate shows "later", which is not an earlier step`)
}
