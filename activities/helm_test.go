package activities_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/tests/lab"
)

// packageCharts packages tests/testdata/charts/agile-service at each version
// with helm's Go API into a chart folder, as an air-gapped site's mirror.
func packageCharts(t *testing.T, versions ...string) string {
	dir := t.TempDir()
	for _, v := range versions {
		ch, err := loader.Load("../tests/testdata/charts/agile-service")
		require.NoError(t, err)
		ch.Metadata.Version, ch.Metadata.AppVersion = v, v
		_, err = chartutil.Save(ch, dir)
		require.NoError(t, err)
	}
	return dir
}

func TestHelmStepsAgainstARealAPIServer(t *testing.T) {
	cp := lab.StartControlPlane(t)
	store := config.NewSecretStore(map[string]config.Secret{"c7n-db-pw": {Value: "c7n-Db-pw,with=specials.9"}})
	h := &activities.Helm{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}},
		ChartDirs: []string{packageCharts(t, "0.21.0", "0.21.1")}, Secrets: store, Artifacts: &activities.Artifacts{Root: t.TempDir()}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	kc := kubeClient(t, cp.Kubeconfig)
	ns := "c7n-system"
	chart := func(v string) activities.ChartRef {
		return activities.ChartRef{Repo: "c7n", Name: "agile-service", Version: v}
	}
	upgrade := func(in activities.HelmUpgradeInput) activities.HelmReleaseResult {
		t.Helper()
		val, err := env.ExecuteActivity(h.UpgradeInstall, in)
		require.NoError(t, err)
		var res activities.HelmReleaseResult
		require.NoError(t, val.Get(&res))
		return res
	}

	// Install 0.21.0 (the release is missing: upgrade --install installs).
	res := upgrade(activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "agile-service", Chart: chart("0.21.0"),
		CreateNamespace: true, Values: map[string]any{"env": map[string]any{"open": map[string]any{"SPRING_REDIS_HOST": "redis-0.21"}}}})
	require.True(t, res.Changed)
	require.Equal(t, 1, res.Revision)
	require.Contains(t, res.Summary, "installed agile-service to 0.21.0")

	// Back up every release's values in the namespace, as the guide's loop.
	val, err := env.ExecuteActivity(h.BackupReleaseValues, activities.HelmBackupInput{Cluster: "lab", Namespace: ns})
	require.NoError(t, err)
	var backup activities.HelmBackupResult
	require.NoError(t, val.Get(&backup))
	require.Len(t, backup.Files, 1)
	b, err := os.ReadFile(backup.Files[0].Path)
	require.NoError(t, err)
	var saved map[string]any
	require.NoError(t, yaml.Unmarshal(b, &saved))
	require.Equal(t, map[string]any{"env": map[string]any{"open": map[string]any{"SPRING_REDIS_HOST": "redis-0.21"}}}, saved)

	// The guide's agile upgrade: -f <(helm get values) + --set preJob… + a password by reference.
	up := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "agile-service", Chart: chart("0.21.1"), ReuseValues: true,
		Set:        []string{"preJob.preInitDB.datasource.platform.url=jdbc:mysql://c7n-mysql.c7n-system.svc:3306/?useSSL=false", "preJob.preInitDB.datasource.platform.username=choerodon"},
		SetSecrets: map[string]string{"preJob.preInitDB.datasource.platform.password": "c7n-db-pw"}}
	res = upgrade(up)
	require.True(t, res.Changed)
	require.Equal(t, 2, res.Revision)
	cm, err := kc.CoreV1().ConfigMaps(ns).Get(context.Background(), "agile-service-env", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "0.21.1", cm.Data["chartVersion"])
	require.Equal(t, "redis-0.21", cm.Data["redisHost"], "reused values kept")
	require.Equal(t, "jdbc:mysql://c7n-mysql.c7n-system.svc:3306/?useSSL=false", cm.Data["platformUrl"])
	rel := lastRelease(t, cp.Kubeconfig, ns, "agile-service")
	require.Equal(t, "c7n-Db-pw,with=specials.9", rel.Config["preJob"].(map[string]any)["preInitDB"].(map[string]any)["datasource"].(map[string]any)["platform"].(map[string]any)["password"])
	require.NotContains(t, res.Summary, "c7n-Db-pw")

	// Retried after a lost worker: already there, nothing upgraded twice.
	res = upgrade(up)
	require.False(t, res.Changed)
	require.Equal(t, 2, lastRelease(t, cp.Kubeconfig, ns, "agile-service").Version)

	// A release stuck in pending-upgrade goes to the operator.
	markPending(t, cp.Kubeconfig, ns, "agile-service")
	_, err = env.ExecuteActivity(h.UpgradeInstall, activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "agile-service", Chart: chart("0.21.0")})
	app := appErr(t, err)
	require.Equal(t, activities.ErrHelmPending, app.Type())
	require.True(t, app.NonRetryable())

	// Delete, twice: the second finds nothing and succeeds.
	for i, want := range []string{"deleted agile-service", "was not installed"} {
		val, err := env.ExecuteActivity(h.Uninstall, activities.HelmUninstallInput{Cluster: "lab", Namespace: ns, Release: "agile-service"})
		require.NoError(t, err, "uninstall %d", i)
		var r activities.HelmReleaseResult
		require.NoError(t, val.Get(&r))
		require.Contains(t, r.Summary, want)
	}

	_, err = env.ExecuteActivity(h.UpgradeInstall, activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "x", Chart: chart("9.9.9")})
	require.Equal(t, activities.ErrChartNotFound, appErr(t, err).Type())
	_, err = env.ExecuteActivity(h.UpgradeInstall, activities.HelmUpgradeInput{Cluster: "prod", Namespace: ns, Release: "x", Chart: chart("0.21.0")})
	require.ErrorContains(t, err, `cluster "prod" is not configured on the worker (known: lab)`)
}

func kubeClient(t *testing.T, kubeconfig string) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	c, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return c
}

func helmConfig(t *testing.T, kubeconfig, ns string) *action.Configuration {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &ns
	cfg := new(action.Configuration)
	require.NoError(t, cfg.Init(flags, ns, "secret", func(string, ...any) {}))
	return cfg
}

func lastRelease(t *testing.T, kubeconfig, ns, name string) *release.Release {
	rel, err := helmConfig(t, kubeconfig, ns).Releases.Last(name)
	require.NoError(t, err)
	return rel
}

// markPending leaves the release as a helm process that died mid-upgrade would.
func markPending(t *testing.T, kubeconfig, ns, name string) {
	cfg := helmConfig(t, kubeconfig, ns)
	rel, err := cfg.Releases.Last(name)
	require.NoError(t, err)
	rel.Info.Status = release.StatusPendingUpgrade
	require.NoError(t, cfg.Releases.Update(rel))
}

func TestChartsComeFromTheRepositoryOnceThenFromTheCache(t *testing.T) {
	repoDir := packageCharts(t, "0.22.0", "0.22.1")
	var downloads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".tgz") {
			downloads.Add(1)
		}
		http.FileServer(http.Dir(repoDir)).ServeHTTP(w, r)
	}))
	defer srv.Close()
	idx, err := repo.IndexDirectory(repoDir, srv.URL)
	require.NoError(t, err)
	require.NoError(t, idx.WriteFile(filepath.Join(repoDir, "index.yaml"), 0o644))

	mirror := packageCharts(t, "0.21.0")
	h := &activities.Helm{ChartDirs: []string{mirror}, Repos: map[string]string{"c7n": srv.URL}, CacheDir: t.TempDir()}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	want := []activities.ChartRef{{Repo: "c7n", Name: "agile-service", Version: "0.21.0"}, {Repo: "c7n", Name: "agile-service", Version: "0.22.1"}}
	for i := 0; i < 2; i++ {
		val, err := env.ExecuteActivity(h.FetchCharts, activities.FetchChartsInput{Charts: want})
		require.NoError(t, err)
		var res activities.FetchChartsResult
		require.NoError(t, val.Get(&res))
		require.Len(t, res.Charts, 2)
		require.Equal(t, filepath.Join(mirror, "agile-service-0.21.0.tgz"), res.Charts[0].Path, "the mirror comes first")
	}
	require.Equal(t, int32(1), downloads.Load(), "downloaded once, then from the cache")

	_, err = env.ExecuteActivity(h.FetchCharts, activities.FetchChartsInput{Charts: []activities.ChartRef{
		{Repo: "c7n", Name: "agile-service", Version: "9.9.9"}, {Repo: "skoala", Name: "skoala", Version: "0.19.2"}, {Repo: "c7n", Name: "agile-service", Version: "0.22.0"}}})
	app := appErr(t, err)
	require.Equal(t, activities.ErrChartNotFound, app.Type())
	require.Contains(t, app.Message(), "2 charts cannot be found")
	require.Contains(t, app.Message(), "c7n/agile-service@9.9.9, skoala/skoala@0.19.2")
}
