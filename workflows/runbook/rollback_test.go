package runbook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"upgrader/workflows/runbook"
)

// undoable is a delete step whose undo re-installs and then waits, as the
// Choerodon guide's delete-release steps do.
func undoable(name string) runbook.Step {
	s := work("delete/" + name)
	s.Undo = []runbook.Step{
		{Name: "undo/delete/" + name, Kind: runbook.KindHelm, Summary: "re-install " + name, Activity: "Record", Input: workIn{Label: "reinstall " + name}},
		{Name: "undo/wait-up/" + name, Kind: runbook.KindWait, Summary: "wait for " + name, Activity: "Record", Input: workIn{Label: "wait " + name}},
	}
	return s
}

// recorder registers "Record", which notes the order its calls came in.
func recorder(h *harness) *[]string {
	var order []string
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in workIn) (runbook.Outcome, error) {
		order = append(order, in.Label)
		return runbook.Outcome{Summary: "did " + in.Label}, nil
	}, activity.RegisterOptions{Name: "Record"})
	return &order
}

const noWayBack = "升级后可能数据库结构会发生改变，故不能进行版本回退"

func migrate() runbook.Step {
	s := work("migrate")
	s.NoReturn = noWayBack
	return s
}

func TestAbortWithRollbackUndoesDoneStepsLatestFirst(t *testing.T) {
	h := newHarness(t, []runbook.Step{work("backup"), undoable("a"), undoable("b"), flaky("create-db"), migrate(), work("after")})
	order := recorder(h)
	h.at(time.Minute, func() {
		st := h.status()
		require.Equal(t, runbook.RunFailedAwaiting, st.State)
		require.Equal(t, []string{"undo/delete/a", "undo/wait-up/a"}, st.Step("delete/a").Undo)
		require.Equal(t, noWayBack, st.Step("migrate").NoReturn)
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "create-db", Action: runbook.ActionRetry, By: "eve", Rollback: true},
			"--rollback goes with abort only")
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "create-db", Action: runbook.ActionAbort, By: "eve",
			Comment: "DB admin password rotated; back to 0.21", Rollback: true})
	})
	_, err := h.run()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, runbook.ErrRolledBack, app.Type())
	require.Contains(t, app.Error(), "eve aborted the upgrade at step create-db")
	require.Contains(t, app.Error(), "rolled it back: 4 undo steps for delete/b, delete/a")
	var st runbook.RunStatus
	require.NoError(t, app.Details(&st))

	require.Equal(t, runbook.RunRolledBack, st.State)
	require.Equal(t, []string{"reinstall b", "wait b", "reinstall a", "wait a"}, *order, "latest step first, each undo in its order")
	names := []string{}
	for _, s := range st.Steps[6:] {
		names = append(names, s.Name)
		require.Equal(t, runbook.StepDone, s.State, s.Name)
	}
	require.Equal(t, []string{"undo/delete/b", "undo/wait-up/b", "undo/delete/a", "undo/wait-up/a"}, names)
	require.Equal(t, "delete/b", st.Step("undo/wait-up/b").Undoes)
	require.Equal(t, runbook.StepAborted, st.Step("create-db").State)
	require.Equal(t, runbook.StepNotRunAfterAbort, st.Step("migrate").State)
	require.Zero(t, h.calls["migrate"])
	require.True(t, st.Decisions[0].Rollback)
	require.Contains(t, st.Decisions[0].String(), "abort create-db by eve (claimed, unverified) with --rollback")

	var sawRolling bool
	for _, u := range h.upserts {
		if u["UpgradeState"] == "rolling-back" && u["UpgradeStep"] == "undo/delete/b" {
			sawRolling = true
		}
	}
	require.True(t, sawRolling, "the undo steps were published as the current step: %v", h.upserts)
	require.Equal(t, "rolled-back", h.upserts[len(h.upserts)-1]["UpgradeState"])
}

func TestRollbackIsRefusedPastThePointOfNoReturn(t *testing.T) {
	h := newHarness(t, []runbook.Step{undoable("a"), migrate(), flaky("check")})
	order := recorder(h)
	h.at(time.Minute, func() {
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "check", Action: runbook.ActionAbort, By: "eve",
			Comment: "back please", Rollback: true}, "cannot roll back: migrate, the point of no return, is done; the guide warns: "+noWayBack)
		// A signal is not refused by a validator: the run records why it
		// did not take it, and the plain abort still works.
		h.env.SignalWorkflow(runbook.SignalDecide, runbook.Decision{Step: "check", Action: runbook.ActionAbort, By: "eve",
			Comment: "back please", Rollback: true})
	})
	h.at(2*time.Minute, func() {
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "check", Action: runbook.ActionAbort, By: "eve", Comment: "stop here"})
	})
	_, err := h.run()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, runbook.ErrAborted, app.Type())
	var st runbook.RunStatus
	require.NoError(t, app.Details(&st))
	require.Equal(t, runbook.RunAborted, st.State)
	require.Empty(t, *order, "nothing was undone")
	require.Len(t, st.Notices, 1)
	require.Contains(t, st.Notices[0], noWayBack)
	require.Len(t, st.Steps, 3, "no undo step was added")
}

func TestAFailedUndoStepWaitsForADecision(t *testing.T) {
	a := undoable("a")
	a.Undo[1] = flaky("undo/wait-up/a")
	h := newHarness(t, []runbook.Step{a, undoable("b"), flaky("create-db"), migrate()})
	order := recorder(h)
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "create-db", Action: runbook.ActionAbort, By: "eve", Comment: "back", Rollback: true})
	})
	h.at(2*time.Minute, func() {
		st := h.status()
		require.Equal(t, runbook.RunFailedAwaiting, st.State)
		require.Equal(t, "undo/wait-up/a", st.CurrentStep)
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "undo/wait-up/a", Action: runbook.ActionAbort, By: "eve",
			Comment: "again", Rollback: true}, "already rolling back")
		h.flakyOK = true
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "undo/wait-up/a", Action: runbook.ActionRetry, By: "eve"})
	})
	_, err := h.run()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, runbook.ErrRolledBack, app.Type())
	require.Equal(t, []string{"reinstall b", "wait b", "reinstall a"}, *order)
	var st runbook.RunStatus
	require.NoError(t, app.Details(&st))
	require.Equal(t, 2, st.Step("undo/wait-up/a").Attempts)
}

func TestUndoStepsAreChecked(t *testing.T) {
	bad := undoable("a")
	bad.Undo = append(bad.Undo, runbook.Step{Name: "reinstall-a", Kind: runbook.KindHelm, Activity: "Work"})
	late := undoable("late")
	second := work("second")
	second.NoReturn = "again"
	err := runbook.ValidatePlan([]runbook.Step{bad, migrate(), late, second})
	require.Error(t, err)
	require.Contains(t, err.Error(), "undo step 3 (reinstall-a): name must start with undo/")
	require.Contains(t, err.Error(), "step 3 (delete/late): has undo steps but comes after the point of no return (step 2)")
	require.Contains(t, err.Error(), "step 4 (second): a second point of no return (step 2 is one)")

	taking := undoable("b")
	taking.Undo[0].Inputs = map[string]runbook.From{"Label": {Step: "later", Output: "x"}}
	err = runbook.ValidatePlan([]runbook.Step{taking, work("later")})
	require.ErrorContains(t, err, `input Label is taken from "later", which is not an earlier step`)
}
