package runbook_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/workflows/runbook"
)

// One dev server serves every test of the package that needs one: each
// uses its own workflow ID and task queue.
var (
	serverOnce sync.Once
	server     *testsuite.DevServer
	serverErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		_ = server.Stop()
	}
	os.Exit(code)
}

// startServer starts (once) the pinned dev server with the runbook's search
// attributes, or skips the test when it is not built.
func startServer(t *testing.T) client.Client {
	t.Helper()
	bin := temporalBin()
	if bin == "" || testing.Short() {
		t.Skip("needs the pinned Temporal CLI (scripts/build-tools.sh temporal)")
	}
	serverOnce.Do(func() {
		var sas []temporal.SearchAttributeUpdate
		for _, k := range runbook.SearchAttributeKeys() {
			sas = append(sas, k.ValueSet(""))
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		server, serverErr = testsuite.StartDevServer(sctx, testsuite.DevServerOptions{
			ExistingPath:     bin,
			LogLevel:         "error",
			SearchAttributes: temporal.NewSearchAttributes(sas...),
			ClientOptions:    &client.Options{Namespace: "default"},
		})
	})
	require.NoError(t, serverErr)
	return server.Client()
}

// temporalBin is the pinned Temporal CLI the lab builds, or "".
func temporalBin() string {
	if p := os.Getenv("UPGRADER_TEMPORAL_BIN"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "upgrader", "bin", "temporal-1.5.1")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// On a real dev server: an activity whose first attempt stops heartbeating
// (a worker lost mid-helm) and whose second fails for good. The step's
// status shows both of Temporal's attempts within the operator's try, with
// the heartbeat timeout that used to be hidden; a retry that works at once
// shows one attempt.
func TestStatusShowsTemporalAttempts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startServer(t)

	release := make(chan struct{})
	defer close(release)
	w := worker.New(c, "attempts", worker.Options{WorkerStopTimeout: time.Second})
	w.RegisterActivityWithOptions(func(ctx context.Context, in workIn) (runbook.Outcome, error) {
		info := activity.GetInfo(ctx)
		switch {
		case strings.HasSuffix(info.ActivityID, "#2"):
			return runbook.Outcome{Summary: "upgraded"}, nil
		case info.Attempt == 1:
			// The worker "dies": no heartbeat, no answer.
			select {
			case <-ctx.Done():
			case <-release:
			}
			return runbook.Outcome{}, ctx.Err()
		default:
			return runbook.Outcome{}, temporal.NewNonRetryableApplicationError(
				"release app is pending-upgrade: another operation is in progress", "HelmPending", nil)
		}
	}, activity.RegisterOptions{Name: "Stall"})
	steps := []runbook.Step{{Name: "upgrade/app", Kind: runbook.KindHelm, Summary: "upgrade",
		Activity: "Stall", Input: workIn{Label: "app"}, Heartbeat: 2 * time.Second, Timeout: time.Minute}}
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (runbook.RunStatus, error) {
		return runbook.Run(ctx, guide, target, steps)
	}, workflow.RegisterOptions{Name: "AttemptsUpgrade"})
	require.NoError(t, w.Start())
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "upgrade/attempts/lab", TaskQueue: "attempts"}, "AttemptsUpgrade")
	require.NoError(t, err)
	var st runbook.RunStatus
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, run.GetID(), "", runbook.QueryStatus)
		if err != nil {
			return false
		}
		require.NoError(t, v.Get(&st))
		return st.State == runbook.RunFailedAwaiting
	}, time.Minute, 200*time.Millisecond)
	s := st.Step("upgrade/app")
	require.Len(t, s.Tries, 1)
	try := s.Tries[0]
	require.Equal(t, int32(2), try.Attempts, "%+v", try)
	require.Equal(t, []runbook.AttemptFailure{
		{Attempt: 1, Failure: "activity Heartbeat timeout"},
		{Attempt: 2, Failure: "release app is pending-upgrade: another operation is in progress [HelmPending]"},
	}, try.Failures)
	require.NotEmpty(t, try.Worker)

	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: runbook.UpdateDecide,
		Args: []any{runbook.Decision{Step: "upgrade/app", Action: runbook.ActionRetry, By: "op"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	require.NoError(t, run.Get(ctx, &st))
	s = st.Step("upgrade/app")
	require.Len(t, s.Tries, 2)
	require.Equal(t, runbook.TryStatus{Try: 2, Attempts: 1}, s.Tries[1])

	// The history holds the lookup as one marker per try that took longer
	// than the retry policy's first interval, and no other extra event.
	iter := c.GetWorkflowHistory(ctx, run.GetID(), "", false, 0)
	markers := 0
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
			markers++
		}
	}
	require.Equal(t, 1, markers)
	require.False(t, errors.Is(ctx.Err(), context.DeadlineExceeded))
}
