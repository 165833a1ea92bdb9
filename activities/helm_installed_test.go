package activities_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/activities"
	"upgrader/tests/lab"
)

// TestInstalledVersionFindsWrongVersionsAndHelm2Sites: before any change,
// the site's releases must be at the config's from version; a release only
// Helm 2 knows (Tiller's ConfigMap, labelled as Helm 2 labels it) is named
// as such, not taken for "not installed".
func TestInstalledVersionFindsWrongVersionsAndHelm2Sites(t *testing.T) {
	cp := lab.StartControlPlane(t)
	h := &activities.Helm{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}},
		ChartDirs: []string{packageCharts(t, "0.21.0", "0.21.1")}, Artifacts: &activities.Artifacts{Root: t.TempDir()}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	ns := "c7n-system"
	_, err := env.ExecuteActivity(h.UpgradeInstall, activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "agile-service",
		Chart: activities.ChartRef{Repo: "c7n", Name: "agile-service", Version: "0.21.1"}, CreateNamespace: true})
	require.NoError(t, err)
	kc := kubeClient(t, cp.Kubeconfig)
	for _, v := range []string{"1", "2"} {
		_, err = kc.CoreV1().ConfigMaps("kube-system").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: "base-service.v" + v, Labels: map[string]string{"NAME": "base-service", "OWNER": "TILLER", "STATUS": "DEPLOYED", "VERSION": v}},
			Data: map[string]string{"release": "H4sI…"}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	_, err = env.ExecuteActivity(h.CheckInstalledVersion, activities.InstalledVersionInput{Cluster: "lab", Namespace: ns, From: "0.21",
		Releases: []string{"agile-service"}})
	require.NoError(t, err, "0.21.1 is a 0.21 chart")

	_, err = env.ExecuteActivity(h.CheckInstalledVersion, activities.InstalledVersionInput{Cluster: "lab", Namespace: ns, From: "0.20",
		Releases: []string{"agile-service", "base-service", "asgard-service"}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "agile-service is at chart 0.21.1")
	require.Contains(t, err.Error(), "base-service is a Helm 2 release (version 2, DEPLOYED, in Tiller's ConfigMap kube-system/base-service.v2)")
	require.Contains(t, err.Error(), "asgard-service is not installed")
	require.Contains(t, err.Error(), "nothing was changed")
}
