package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/internal/report"
	labsrv "upgrader/tests/lab"
	"upgrader/workflows/runbook"
)

// An abort with --rollback after the old framework's releases were deleted,
// before the data migration: every deleted release is installed again at
// the chart version it ran, with the values backup-values/all saved, and
// is up; the run ends rolled back. A worker killed as the rollback starts
// costs a heartbeat, not the rollback.
func TestChoerodon021AbortWithRollbackPutsTheOldFrameworkBack(t *testing.T) {
	l := newC7nLab(t)
	ns := "c7n-back"
	require.NoError(t, l.site.PackageC7N021([]string{"迁移 emailConfig", "修复完成，正常退出"}, 0))
	require.NoError(t, l.site.SeedC7N021(ns, l.sql(t), true))
	cfg := c7n021Config(t, l, "back", ns)
	id := runbook.WorkflowID("choerodon-0.21-0.22", "back")

	plan := mustStarter(t, l.workerCfg, "plan", "choerodon-0.21-0.22", "-c", cfg)
	require.Contains(t, plan, "undo (abort --rollback): undo/delete-release/base-service")
	require.Contains(t, plan, "POINT OF NO RETURN: once this step starts, abort --rollback is refused: 升级后可能数据库结构会发生改变，故不能进行版本回退")

	w := startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", cfg)
	eventually(t, 2*time.Minute, "the delete gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })
	before := map[string]map[string]any{}
	for _, r := range labsrv.C7N021OldReleases {
		before[r] = l.values(t, ns, r)
		require.Equal(t, "0.21.0", l.chartVersion(t, ns, r))
	}

	// The DB admin's password is changed under the run: the first step
	// after the deletes, create-databases/hzero, fails.
	root, err := l.db.Root("")
	require.NoError(t, err)
	defer root.Close()
	_, err = root.Exec("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'rotated-by-the-dba-1'")
	require.NoError(t, err)
	st := operate(t, l.workerCfg, id, 3*time.Minute, nil)
	require.Equal(t, runbook.RunFailedAwaiting, st.State, "%+v", st)
	require.Equal(t, "create-databases/hzero", st.CurrentStep)
	for _, r := range labsrv.C7N021OldReleases {
		require.Equal(t, 0, l.revisions(t, ns, r), "%s deleted", r)
	}
	out := mustStarter(t, l.workerCfg, "status", id)
	require.Contains(t, out, "decide "+id+" create-databases/hzero abort --rollback")

	mustStarter(t, l.workerCfg, "decide", id, "create-databases/hzero", "abort", "--rollback", "--comment", "DBA rotated the admin password; back to 0.21")
	w.kill(t)
	// The undo runs on a worker that never saw the values files (another
	// replica, another machine): it re-installs from their copies in the
	// namespace, checked against the SHA-256 backup-values recorded.
	values, err := filepath.Glob(filepath.Join(l.artifacts, "upgrade", "choerodon-0.21-0.22", "back", "*", "values"))
	require.NoError(t, err)
	require.Len(t, values, 1)
	require.NoError(t, os.Rename(values[0], values[0]+".on-the-first-worker"))
	startWorker(t, l.workerCfg)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := temporalClient().GetWorkflow(ctx, id, "")
	err = run.Get(ctx, nil)
	require.ErrorContains(t, err, "aborted the upgrade at step create-databases/hzero")
	require.ErrorContains(t, err, "rolled it back: 16 undo steps for delete-release/asgard-service, delete-release/register-server")

	final := status(t, id)
	require.Equal(t, runbook.RunRolledBack, final.State)
	require.Equal(t, runbook.StepNotRunAfterAbort, final.Step("install/data-migration").State)
	// Undo steps, latest delete first, each done and naming what it undid.
	require.Equal(t, "undo/delete-release/asgard-service", final.Steps[len(final.Steps)-16].Name)
	require.Equal(t, "undo/wait-up/base-service", final.Steps[len(final.Steps)-1].Name)
	for _, s := range final.Steps[len(final.Steps)-16:] {
		require.Equal(t, runbook.StepDone, s.State, "%s: %s", s.Name, s.LastError)
		require.NotEmpty(t, s.Undoes, s.Name)
	}
	require.Contains(t, final.Step("undo/delete-release/base-service").Result, "installed base-service to 0.21.0")

	// The old framework is back: its chart version, its values, its pods up;
	// nothing of hzero was installed.
	for _, r := range labsrv.C7N021OldReleases {
		require.Equal(t, "0.21.0", l.chartVersion(t, ns, r), r)
		require.Equal(t, before[r], l.values(t, ns, r), "%s has the values it had", r)
		require.Equal(t, 1, l.revisions(t, ns, r), "%s installed once, however many tries", r)
	}
	require.Equal(t, "old-pw", l.values(t, ns, "base-service")["env"].(map[string]any)["open"].(map[string]any)["SPRING_DATASOURCE_PASSWORD"])
	require.Equal(t, 0, l.revisions(t, ns, "data-migration"))

	// The run's report says so.
	md, err := os.ReadFile(filepath.Join(l.artifacts, "upgrade", "choerodon-0.21-0.22", "back", run.GetRunID(), report.MarkdownFile))
	require.NoError(t, err)
	require.Contains(t, string(md), "rolled-back")
	require.Contains(t, string(md), "undo/delete-release/register-server")
	assertNoSecrets(t, id, l.artifacts, 20, c7nDBPassword, l.db.RootPassword, "rotated-by-the-dba-1", "lab-minio-ak", "lab-minio-sk-8812",
		c7nAPIToken, "lab-admin-token-77Q", c7nOAuthSecret)
}
