package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/internal/app"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// On a real dev server: the demo guide's workflow pauses on
// a config value (labDir) its first step refuses. `starter decide … retry
// --config FILE` shows the diff and asks; "n" sends nothing; --yes sends it,
// and the step runs again with the corrected value.
func TestDecideRetryWithACorrectedConfigOnAServer(t *testing.T) {
	if _, err := app.TemporalBin(); err != nil || testing.Short() {
		t.Skip("needs the pinned Temporal CLI")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := app.StartDevServer(ctx, app.DevServerOptions{})
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()
	c := srv.Client()

	// The demo's activities, standing in for the lab: Preflight accepts one
	// lab folder only; the rest do nothing.
	var preflights []string
	w := worker.New(c, "upgrader", worker.Options{})
	w.RegisterActivityWithOptions(func(ctx context.Context, in map[string]any) (runbook.Outcome, error) {
		dir, _ := in["labDir"].(string)
		if dir == "" {
			dir, _ = in["LabDir"].(string)
		}
		preflights = append(preflights, dir)
		if dir != "/srv/lab" {
			return runbook.Outcome{}, temporal.NewNonRetryableApplicationError(
				"lab folder "+dir+" does not exist; fix labDir in the config", runbook.ErrPrecondition, nil)
		}
		return runbook.Outcome{Summary: "lab ok"}, nil
	}, activity.RegisterOptions{Name: "Preflight"})
	for _, name := range []string{"BackupValues", "DeleteRelease", "Install", "Verify"} {
		w.RegisterActivityWithOptions(func(ctx context.Context, in map[string]any) (runbook.Outcome, error) {
			return runbook.Outcome{Summary: "ok"}, nil
		}, activity.RegisterOptions{Name: name})
	}
	spec, err := workflows.Lookup("demo")
	require.NoError(t, err)
	w.RegisterWorkflowWithOptions(spec.Workflow, workflow.RegisterOptions{Name: spec.WorkflowType})
	require.NoError(t, w.Start())
	defer w.Stop()

	example, err := os.ReadFile("../config/examples/demo.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(bad, example, 0o600))
	require.NoError(t, os.WriteFile(good, []byte(strings.Replace(string(example),
		"labDir: /tmp/upgrader-demo/lab", "labDir: /srv/lab", 1)), 0o600))

	starter := func(stdin string, args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetIn(strings.NewReader(stdin))
		root.SetArgs(append([]string{"--address", srv.FrontendHostPort()}, args...))
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	out, err := starter("", "start", "demo", "-c", bad)
	require.NoError(t, err, out)
	id := runbook.WorkflowID("demo", "lab")
	waitFor := func(step string, state runbook.StepState) runbook.RunStatus {
		var st runbook.RunStatus
		require.Eventually(t, func() bool {
			st, err = queryStatus(ctx, c, id)
			s := st.Step(step)
			return err == nil && s != nil && s.State == state
		}, time.Minute, 100*time.Millisecond, "%s never became %s", step, state)
		return st
	}
	waitFor("preflight/lab", runbook.StepFailedAwaiting)

	out, err = starter("n\n", "decide", id, "preflight/lab", "retry", "--config", good)
	require.NoError(t, err)
	require.Contains(t, out, "--- config upgrade/demo/lab uses now")
	require.Contains(t, out, `-  "labDir": "/tmp/upgrader-demo/lab",`)
	require.Contains(t, out, `+  "labDir": "/srv/lab",`)
	require.Contains(t, out, "keys changed (1):\n  labDir: /tmp/upgrader-demo/lab → /srv/lab")
	require.Contains(t, out, "not sent")
	require.Equal(t, []string{"/tmp/upgrader-demo/lab"}, preflights, "nothing was sent")

	_, err = starter("", "decide", id, "preflight/lab", "retry", "--config", bad)
	require.ErrorContains(t, err, "is the config upgrade/demo/lab already uses")

	out, err = starter("", "decide", id, "preflight/lab", "retry", "--config", good, "--yes")
	require.NoError(t, err, out)
	require.Contains(t, out, "corrected config taken; keys changed: labDir")
	st := waitFor("approve/delete-old-releases", runbook.StepWaitingApproval)
	require.Equal(t, []string{"/tmp/upgrader-demo/lab", "/srv/lab"}, preflights)
	require.Len(t, st.ConfigChanges, 1)

	out, err = starter("", "status", id)
	require.NoError(t, err)
	require.Contains(t, out, "config corrected during the run:")
	require.Contains(t, out, "labDir: /tmp/upgrader-demo/lab → /srv/lab")

	require.NoError(t, c.TerminateWorkflow(ctx, id, "", "test over"))
	var term *temporal.TerminatedError
	require.True(t, errors.As(c.GetWorkflow(ctx, id, "").Get(ctx, nil), &term))
}
