package runbook_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"upgrader/workflows/runbook"
)

// registerReplay registers the test workflows under the names the recorded
// histories use.
func registerReplay(r worker.WorkflowReplayer) {
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in testInput) (runbook.RunStatus, error) {
		return inputWorkflow(ctx, in, 0)
	}, workflow.RegisterOptions{Name: "TestInputUpgrade"})
}

// TestReplayRunbookHistories replays histories recorded on a real dev
// server (testdata/*.json) against today's runbook: a change to the runbook
// that would break runs in flight — a command added, removed or reordered
// without workflow.GetVersion — fails here. Record them again with
// UPGRADER_RECORD_HISTORY=1 go test -run TestRunbookFeaturesOnAServer.
func TestReplayRunbookHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			registerReplay(r)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}

// On a real dev server, one run uses every feature of the runbook a guide
// may lean on: Temporal attempts looked up after a heartbeat timeout, an
// output list expanded into steps, a gate, a step paused on a bad config
// value and retried with a corrected config. Its history must replay.
func TestRunbookFeaturesOnAServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startServer(t)

	release := make(chan struct{})
	defer close(release)
	w := worker.New(c, "features", worker.Options{WorkerStopTimeout: time.Second})
	registerTestActivities(w, release)
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in testInput) (runbook.RunStatus, error) {
		return inputWorkflow(ctx, in, 0)
	}, workflow.RegisterOptions{Name: "TestInputUpgrade"})
	require.NoError(t, w.Start())
	defer w.Stop()

	in := testInput{Target: target, Release: "app-old", Plugins: []string{"a", "c"}, Stall: true}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "upgrade/features/lab", TaskQueue: "features"},
		"TestInputUpgrade", in)
	require.NoError(t, err)
	waitFor := func(step string, state runbook.StepState) {
		require.Eventually(t, func() bool {
			v, err := c.QueryWorkflow(ctx, run.GetID(), "", runbook.QueryStatus)
			if err != nil {
				return false
			}
			var st runbook.RunStatus
			require.NoError(t, v.Get(&st))
			s := st.Step(step)
			return s != nil && s.State == state
		}, time.Minute, 100*time.Millisecond, "%s never became %s", step, state)
	}
	send := func(name string, arg any) {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: name,
			Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
		require.NoError(t, err)
		require.NoError(t, h.Get(ctx, nil))
	}
	waitFor("approve/upgrade", runbook.StepWaitingApproval)
	send(runbook.UpdateApprove, runbook.Approval{Step: "approve/upgrade", By: "op"})
	waitFor("upgrade/app", runbook.StepFailedAwaiting)
	fixed := in
	fixed.Release = "app-good"
	send(runbook.UpdateDecide, runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op", Config: mustJSON(fixed)})

	var st runbook.RunStatus
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, runbook.RunCompleted, st.State)
	stall := st.Step("upgrade/stall")
	require.Equal(t, int32(2), stall.Tries[0].Attempts)
	require.Equal(t, []runbook.AttemptFailure{{Attempt: 1, Failure: "activity Heartbeat timeout"}}, stall.Tries[0].Failures)
	require.Equal(t, runbook.StepDone, st.Step("reregister-plugin/c").State)
	require.Equal(t, "upgrade app-good", st.Step("upgrade/app").Result)

	hist := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, run.GetID(), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, e)
	}
	t.Logf("history: %d events", len(hist.Events))
	r := worker.NewWorkflowReplayer()
	registerReplay(r)
	require.NoError(t, r.ReplayWorkflowHistory(nil, hist))
	if os.Getenv("UPGRADER_RECORD_HISTORY") != "" {
		b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile("testdata/runbook-features.json", b, 0o644))
	}
}

// registerTestActivities registers, on a real worker, the activities the
// test plans use. Stall's first attempt of its first try stops heartbeating
// until release is closed.
func registerTestActivities(w worker.Worker, release <-chan struct{}) {
	w.RegisterActivityWithOptions(func(ctx context.Context, in workIn) (runbook.Outcome, error) {
		return runbook.Outcome{Summary: "did " + in.Label}, nil
	}, activity.RegisterOptions{Name: "Work"})
	w.RegisterActivityWithOptions(func(ctx context.Context, in produceIn) (runbook.Outcome, error) {
		return runbook.Outcome{Summary: "published", Outputs: in.Outputs, Items: in.Items}, nil
	}, activity.RegisterOptions{Name: "Produce"})
	w.RegisterActivityWithOptions(func(ctx context.Context, in recordIn) (runbook.Outcome, error) {
		return runbook.Outcome{Summary: "recorded " + in.Label}, nil
	}, activity.RegisterOptions{Name: "Record"})
	w.RegisterActivityWithOptions(func(ctx context.Context, in strictIn) (runbook.Outcome, error) {
		if in.Release != "app-good" {
			return runbook.Outcome{}, temporal.NewNonRetryableApplicationError(
				"release "+in.Release+" not found; fix release in the config", runbook.ErrPrecondition, nil)
		}
		return runbook.Outcome{Summary: in.Label + " " + in.Release}, nil
	}, activity.RegisterOptions{Name: "Strict"})
	w.RegisterActivityWithOptions(func(ctx context.Context, in workIn) (runbook.Outcome, error) {
		info := activity.GetInfo(ctx)
		if info.Attempt == 1 && strings.HasSuffix(info.ActivityID, "#1") {
			select {
			case <-ctx.Done():
			case <-release:
			}
			return runbook.Outcome{}, ctx.Err()
		}
		return runbook.Outcome{Summary: "upgraded"}, nil
	}, activity.RegisterOptions{Name: "Stall"})
}

// On a real dev server, a run with a small history limit continues as new
// between steps and at a gate, several times: the search attributes and the
// status follow the latest run, the steps done are not run again, and every
// run of the chain replays.
func TestContinueAsNewOnAServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startServer(t)

	release := make(chan struct{})
	defer close(release)
	w := worker.New(c, "chain", worker.Options{WorkerStopTimeout: time.Second})
	registerTestActivities(w, release)
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in testInput) (runbook.RunStatus, error) {
		return inputWorkflow(ctx, in, 25)
	}, workflow.RegisterOptions{Name: "TestInputUpgrade25"})
	require.NoError(t, w.Start())
	defer w.Stop()

	in := testInput{Target: target, Release: "app-good", Plugins: []string{"a", "b", "c", "d", "e", "f"}}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "upgrade/chain/lab", TaskQueue: "chain"},
		"TestInputUpgrade25", in)
	require.NoError(t, err)
	firstRun := run.GetRunID() // Get below moves the run to the chain's last
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, run.GetID(), "", runbook.QueryStatus)
		if err != nil {
			return false
		}
		var st runbook.RunStatus
		require.NoError(t, v.Get(&st))
		return st.Step("approve/upgrade").State == runbook.StepWaitingApproval
	}, time.Minute, 100*time.Millisecond)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: runbook.UpdateApprove,
		Args: []any{runbook.Approval{Step: "approve/upgrade", By: "op"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	var st runbook.RunStatus
	require.NoError(t, run.Get(ctx, &st), "Get follows the chain to its last run")
	require.Equal(t, runbook.RunCompleted, st.State)
	require.Greater(t, st.Continued, 2)
	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), "")
	require.NoError(t, err)
	var state string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(
		desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["UpgradeState"], &state))
	require.Equal(t, "completed", state, "the latest run carries the search attributes")
	for _, s := range st.Steps {
		require.Equal(t, runbook.StepDone, s.State, s.Name)
		if s.Kind != runbook.KindGate && s.Name != "reregister-plugin" {
			require.LessOrEqual(t, s.Attempts, 1, "%s ran again", s.Name)
		}
	}

	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in testInput) (runbook.RunStatus, error) {
		return inputWorkflow(ctx, in, 25)
	}, workflow.RegisterOptions{Name: "TestInputUpgrade25"})
	runID, runs, most := firstRun, 0, 0
	for runID != "" {
		runs++
		hist := &historypb.History{}
		iter := c.GetWorkflowHistory(ctx, run.GetID(), runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		runID = ""
		for iter.HasNext() {
			e, err := iter.Next()
			require.NoError(t, err)
			hist.Events = append(hist.Events, e)
			if a := e.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				runID = a.GetNewExecutionRunId()
			}
		}
		most = max(most, len(hist.Events))
		require.NoError(t, r.ReplayWorkflowHistory(nil, hist), "run %d", runs)
	}
	t.Logf("%d runs, at most %d events in one", runs, most)
	require.Equal(t, st.Continued+1, runs)
}
