package integration_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

// TestBlueKingFailuresPauseBeforeHarm: the IAM check that reports a
// problem stops the run before migrate; a failing `bkcli check cmdb`
// pauses the run, and `decide retry` after the fix completes it.
func TestBlueKingFailuresPauseBeforeHarm(t *testing.T) {
	l := newBKLab(t)
	require.NoError(t, l.site.Fail("iam-check-db"))
	require.NoError(t, l.site.Fail("check-cmdb"))
	cfg := l.config(t, "fail")
	id := runbook.WorkflowID("blueking-6.1-6.2", "fail")
	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "blueking-6.1-6.2", "-c", cfg)

	st := operate(t, l.workerCfg, id, 4*time.Minute, nil)
	require.Equal(t, runbook.RunFailedAwaiting, st.State)
	require.Equal(t, "check/iam-before-migrate", st.CurrentStep)
	require.Contains(t, st.Step("check/iam-before-migrate").LastError, "OperationalError")
	require.Equal(t, 0, l.site.Count("iam-migrate"), "migrate never ran")
	require.Equal(t, runbook.StepPending, st.Step("migrate/iam-subject-system-group").State)

	require.NoError(t, l.site.Fix("iam-check-db"))
	mustStarter(t, l.workerCfg, "decide", id, "check/iam-before-migrate", "retry")
	st = operate(t, l.workerCfg, id, 4*time.Minute, nil)
	require.Equal(t, runbook.RunFailedAwaiting, st.State)
	require.Equal(t, "check/cmdb", st.CurrentStep)
	require.Contains(t, st.Step("check/cmdb").LastError, "[FAILURE] 10.0.0.3")
	require.Equal(t, 0, l.site.Count("upgrade-job"))

	require.NoError(t, l.site.Fix("check-cmdb"))
	mustStarter(t, l.workerCfg, "decide", id, "check/cmdb", "retry")
	st = operate(t, l.workerCfg, id, 4*time.Minute, nil)
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	l.checkSite(t)
}
