package activities_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/tests/lab"
)

// Two workers on one queue: the first backs the values up and deletes the
// release (the guide's helm delete --purge); the undo lands on the second,
// which never saw the file. It re-installs from the copy in the release's
// namespace, checked against the SHA-256 the backup recorded, and refuses a
// copy someone changed.
func TestAnUndoOnAnotherWorkerReinstallsFromTheValuesCopyInTheCluster(t *testing.T) {
	cp := lab.StartControlPlane(t)
	charts := packageCharts(t, "0.21.0")
	worker := func() *activities.Helm {
		return &activities.Helm{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}}, ChartDirs: []string{charts},
			Secrets: config.NewSecretStore(nil), Artifacts: &activities.Artifacts{Root: t.TempDir()}}
	}
	first, second := worker(), worker()
	var s testsuite.WorkflowTestSuite
	env1, env2 := s.NewTestActivityEnvironment(), s.NewTestActivityEnvironment()
	env1.RegisterActivity(first)
	env2.RegisterActivity(second)
	ns, rel := "c7n-system", "agile-service"
	chart := activities.ChartRef{Repo: "c7n", Name: rel, Version: "0.21.0"}
	values := map[string]any{"env": map[string]any{"open": map[string]any{"SPRING_REDIS_HOST": "redis-0.21"}}}
	_, err := env1.ExecuteActivity(first.UpgradeInstall, activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: rel, Chart: chart,
		CreateNamespace: true, Values: values})
	require.NoError(t, err)

	backup := func() activities.BackupFile {
		t.Helper()
		val, err := env1.ExecuteActivity(first.BackupReleaseValues, activities.HelmBackupInput{Cluster: "lab", Namespace: ns})
		require.NoError(t, err)
		var res activities.HelmBackupResult
		require.NoError(t, val.Get(&res))
		require.Len(t, res.Files, 1)
		require.Equal(t, res.Files[0].Copy, res.Outputs["copy."+rel])
		return res.Files[0]
	}
	b := backup()
	require.Equal(t, b, backup(), "a retried backup finds its copy")
	kc := kubeClient(t, cp.Kubeconfig)
	ctx := context.Background()
	name := "upgrader-values-" + rel + "-" + b.SHA256[:12]
	require.Equal(t, ns+"/"+name, b.Copy)
	secret, err := kc.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	file, err := os.ReadFile(b.Path)
	require.NoError(t, err)
	require.Equal(t, file, secret.Data["values.yaml"])
	require.True(t, *secret.Immutable)

	_, err = env1.ExecuteActivity(first.Uninstall, activities.HelmUninstallInput{Cluster: "lab", Namespace: ns, Release: rel})
	require.NoError(t, err)
	undo := activities.HelmReinstallInput{Cluster: "lab", Namespace: ns, Release: rel, Chart: chart, ValuesFile: b.Path, ValuesSHA256: b.SHA256}
	require.NoError(t, os.Rename(b.Path, b.Path+".elsewhere")) // the second worker's disk has no such file
	val, err := env2.ExecuteActivity(second.Reinstall, undo)
	require.NoError(t, err)
	var res activities.HelmReleaseResult
	require.NoError(t, val.Get(&res))
	require.Contains(t, res.Summary, "from its values backup")
	require.Equal(t, values, lastRelease(t, cp.Kubeconfig, ns, rel).Config, "the old values, exactly")

	// Someone replaced the copy: refused, nothing installed from it.
	require.NoError(t, kc.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{}))
	secret.ResourceVersion, secret.UID = "", ""
	secret.Data = map[string][]byte{"values.yaml": []byte("env: {open: {SPRING_REDIS_HOST: elsewhere}}\n")}
	_, err = kc.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = env2.ExecuteActivity(second.Reinstall, undo)
	require.Equal(t, activities.ErrBackupChanged, appErr(t, err).Type())
	require.ErrorContains(t, err, "is not the backup its step recorded")

	// No file and no copy: the operator is told where each would have been.
	require.NoError(t, kc.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{}))
	_, err = env2.ExecuteActivity(second.Reinstall, undo)
	require.Equal(t, activities.ErrBackupChanged, appErr(t, err).Type())
	require.ErrorContains(t, err, "is not on this worker, nor its copy in "+ns+" (Secret "+name+")")
}
