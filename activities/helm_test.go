package activities_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	helmtime "helm.sh/helm/v3/pkg/time"
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
	require.Equal(t, len(b), backup.Files[0].Bytes)
	require.Equal(t, strconv.Itoa(len(b)), backup.Outputs["bytes.agile-service"], "the report shows each file's size")

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

func kubeClient(t testing.TB, kubeconfig string) *kubernetes.Clientset {
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

// addPending leaves a new revision pending-upgrade, as a helm client that
// died while a hook ran would, with the given labels.
func addPending(t *testing.T, kubeconfig, ns, name string, labels map[string]string) int {
	t.Helper()
	cfg := helmConfig(t, kubeconfig, ns)
	last, err := cfg.Releases.Last(name)
	require.NoError(t, err)
	rel := *last
	info := *last.Info
	rel.Info = &info
	rel.Version = last.Version + 1
	rel.Info.Status, rel.Info.Description = release.StatusPendingUpgrade, "Preparing upgrade"
	rel.Info.LastDeployed = helmtime.Now().Add(-3 * time.Minute)
	rel.Labels = labels
	require.NoError(t, cfg.Releases.Create(&rel))
	return rel.Version
}

// A release left pending by an earlier try of the same step (its worker
// died while helm waited for a hook) is unlocked and upgraded once more; a
// release left pending by anyone else stops the step and says whose it is.
func TestHelmPendingRevisionsOwnAndOthers(t *testing.T) {
	cp := lab.StartControlPlane(t)
	h := &activities.Helm{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}},
		ChartDirs: []string{packageCharts(t, "0.21.0", "0.21.1")}, Secrets: config.NewSecretStore(nil),
		Artifacts: &activities.Artifacts{Root: t.TempDir()}}
	var s testsuite.WorkflowTestSuite
	newEnv := func() *testsuite.TestActivityEnvironment {
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(h)
		return env
	}
	ns := "c7n-pending"
	in := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "agile-service", CreateNamespace: true,
		Chart: activities.ChartRef{Repo: "c7n", Name: "agile-service", Version: "0.21.0"}}
	_, err := newEnv().ExecuteActivity(h.UpgradeInstall, in)
	require.NoError(t, err)
	// The revision names its run, step and try.
	mine := lastRelease(t, cp.Kubeconfig, ns, "agile-service").Labels
	require.Equal(t, "1", mine["upgrader.io/revision"])
	require.NotEmpty(t, mine["upgrader.io/run"])
	require.NotEmpty(t, mine["upgrader.io/step"])
	in.Chart.Version = "0.21.1"
	upgrade := func(env *testsuite.TestActivityEnvironment) (activities.HelmReleaseResult, error) {
		val, err := env.ExecuteActivity(h.UpgradeInstall, in)
		var res activities.HelmReleaseResult
		if err == nil {
			require.NoError(t, val.Get(&res))
		}
		return res, err
	}
	with := func(l map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range l {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}

	t.Run("left by an earlier try of this step (labels): unlocked, upgraded once more", func(t *testing.T) {
		pending := addPending(t, cp.Kubeconfig, ns, "agile-service", with(mine, "upgrader.io/try", "1.1x", "upgrader.io/revision", "2"))
		res, err := upgrade(newEnv())
		require.NoError(t, err)
		require.Contains(t, res.Summary, fmt.Sprintf("revision %d, left pending-upgrade since", pending))
		require.Equal(t, pending+1, res.Revision)
		cfg := helmConfig(t, cp.Kubeconfig, ns)
		stale, err := cfg.Releases.Get("agile-service", pending)
		require.NoError(t, err)
		require.Equal(t, release.StatusFailed, stale.Info.Status)
		require.Contains(t, stale.Info.Description, "unlocked from stale 'pending-upgrade' state")
		require.Equal(t, release.StatusDeployed, lastRelease(t, cp.Kubeconfig, ns, "agile-service").Info.Status)
	})

	t.Run("left by the last attempt (heartbeat details): unlocked", func(t *testing.T) {
		in.Chart.Version = "0.21.0"
		pending := addPending(t, cp.Kubeconfig, ns, "agile-service", nil)
		env := newEnv()
		env.SetHeartbeatDetails(activities.HelmUpgradeProgress{Release: "agile-service", Revision: pending})
		res, err := upgrade(env)
		require.NoError(t, err)
		require.Equal(t, pending+1, res.Revision)
	})

	t.Run("an install left pending by an earlier try: unlocked, then upgraded over the failed revision", func(t *testing.T) {
		first := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "hzero-iam",
			Chart: activities.ChartRef{Repo: "c7n", Name: "agile-service", Version: "0.21.0"}}
		_, err := newEnv().ExecuteActivity(h.UpgradeInstall, first)
		require.NoError(t, err)
		// As if that try's worker died while helm waited for the install's hook.
		cfg := helmConfig(t, cp.Kubeconfig, ns)
		rel, err := cfg.Releases.Last("hzero-iam")
		require.NoError(t, err)
		rel.Info.Status = release.StatusPendingInstall
		rel.Labels["upgrader.io/try"] = "1.0"
		require.NoError(t, cfg.Releases.Update(rel))
		val, err := newEnv().ExecuteActivity(h.UpgradeInstall, first)
		require.NoError(t, err)
		var res activities.HelmReleaseResult
		require.NoError(t, val.Get(&res))
		require.Contains(t, res.Summary, "revision 1, left pending-install since")
		require.Equal(t, 2, res.Revision)
		require.Equal(t, release.StatusDeployed, lastRelease(t, cp.Kubeconfig, ns, "hzero-iam").Info.Status)
	})

	for _, c := range []struct {
		name   string
		labels map[string]string
		whose  string
	}{
		{"not started by upgrader", nil, "not started by upgrader (the revision carries no upgrader.io labels"},
		{"labels copied by another tool's upgrade", with(mine), "its upgrader.io labels were copied from revision 1"},
		{"another step of this run", with(mine, "upgrader.io/step", "upgrade_hzero-iam", "upgrader.io/revision", "?"),
			"started by upgrader: workflow " + mine["upgrader.io/workflow"] + ", run " + mine["upgrader.io/run"] + ", step upgrade_hzero-iam"},
	} {
		t.Run(c.name+": the step stops and says whose it is", func(t *testing.T) {
			before := lastRelease(t, cp.Kubeconfig, ns, "agile-service").Version
			labels := c.labels
			if labels != nil && labels["upgrader.io/revision"] == "?" {
				labels["upgrader.io/revision"] = fmt.Sprint(before + 1)
			}
			pending := addPending(t, cp.Kubeconfig, ns, "agile-service", labels)
			_, err := upgrade(newEnv())
			app := appErr(t, err)
			require.Equal(t, activities.ErrHelmPending, app.Type())
			require.True(t, app.NonRetryable())
			require.Contains(t, app.Message(), "is pending-upgrade since ")
			require.Contains(t, app.Message(), fmt.Sprintf("(3m0s ago) at revision %d, ", pending))
			require.Contains(t, app.Message(), c.whose)
			deployed, err := helmConfig(t, cp.Kubeconfig, ns).Releases.Deployed("agile-service")
			require.NoError(t, err)
			require.Contains(t, app.Message(), fmt.Sprintf("helm rollback agile-service %d -n %s", deployed.Version, ns))
			// Left alone for its owner or a person.
			require.Equal(t, release.StatusPendingUpgrade, lastRelease(t, cp.Kubeconfig, ns, "agile-service").Info.Status)
			cfg := helmConfig(t, cp.Kubeconfig, ns)
			rel, err := cfg.Releases.Get("agile-service", pending)
			require.NoError(t, err)
			rel.SetStatus(release.StatusFailed, "cleared by the test")
			require.NoError(t, cfg.Releases.Update(rel))
		})
	}
}
