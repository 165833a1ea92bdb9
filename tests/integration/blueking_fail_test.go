package integration_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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

// TestBlueKingCutMongoDumpPausesBeforeAnythingMoves: a mongodump whose
// last document is cut short (as a full disk leaves it) still has every
// collection's file, so the dump step takes it; its restore drill reads
// every document and stops the run there, before src is moved aside, with
// no scratch database left.
func TestBlueKingCutMongoDumpPausesBeforeAnythingMoves(t *testing.T) {
	l := newBKLab(t)
	require.NoError(t, l.site.Fail("mongodump-cut"))
	cfg := l.config(t, "cut")
	id := runbook.WorkflowID("blueking-6.1-6.2", "cut")
	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "blueking-6.1-6.2", "-c", cfg)

	st := operate(t, l.workerCfg, id, 3*time.Minute, nil)
	require.Equal(t, runbook.RunFailedAwaiting, st.State)
	require.Equal(t, "verify-restore/mongodb", st.CurrentStep)
	require.Equal(t, runbook.StepDone, st.Step("backup/mongodb").State)
	require.Contains(t, st.Step("verify-restore/mongodb").LastError, "cut short in document")
	require.Contains(t, st.Step("verify-restore/mongodb").LastError, "do not go on")
	require.Equal(t, runbook.StepPending, st.Step("move/src-aside").State)
	_, err := l.site.Control.File("data/src/VERSION")
	require.NoError(t, err, "src was not moved aside")
	c, err := mongo.Connect(options.Client().SetHosts([]string{l.mongoAddr()}).SetDirect(true))
	require.NoError(t, err)
	defer func() { _ = c.Disconnect(context.Background()) }()
	names, err := c.ListDatabaseNames(context.Background(), bson.D{})
	require.NoError(t, err)
	for _, n := range names {
		require.False(t, strings.HasPrefix(n, "upgrader_verify_"), "scratch database %s left", n)
	}
	mustStarter(t, l.workerCfg, "decide", id, "verify-restore/mongodb", "abort", "--comment", "the Mongo dump is cut short; checking the disk")
}
