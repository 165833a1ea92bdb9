package activities_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/tests/lab"
)

// A try that finds its step's helm work already done (the try before it
// finished helm, then lost its worker before Temporal heard) makes no new
// revision: after an install with --set values, a number, a bool and
// secrets (notify-service in choerodon-0.8-0.9), after an upgrade reusing
// the release's values (iam-service) and after one that adds --set values
// to reused ones (devops-service).
func TestUpgradeInstallRunTwiceMakesOneRevision(t *testing.T) {
	cp := lab.StartControlPlane(t)
	store := config.NewSecretStore(map[string]config.Secret{"c7n-db-choerodon": {Value: "pw,with=specials.9"}})
	h := &activities.Helm{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}},
		ChartDirs: []string{packageCharts(t, "0.8.0", "0.9.0")}, Secrets: store, Artifacts: &activities.Artifacts{Root: t.TempDir()}}
	var s testsuite.WorkflowTestSuite
	ns := "c7n-twice"
	chart := func(v string) activities.ChartRef {
		return activities.ChartRef{Repo: "c7n", Name: "agile-service", Version: v}
	}
	run := func(in activities.HelmUpgradeInput) activities.HelmReleaseResult {
		t.Helper()
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(h)
		val, err := env.ExecuteActivity(h.UpgradeInstall, in)
		require.NoError(t, err)
		var res activities.HelmReleaseResult
		require.NoError(t, val.Get(&res))
		return res
	}
	twice := func(in activities.HelmUpgradeInput, revision int) {
		t.Helper()
		first := run(in)
		require.True(t, first.Changed, first.Summary)
		require.Equal(t, revision, first.Revision)
		again := run(in)
		require.False(t, again.Changed, "the second run upgraded again: %s", again.Summary)
		require.Equal(t, revision, again.Revision)
		require.Equal(t, revision, lastRelease(t, cp.Kubeconfig, ns, in.Release).Version)
	}

	// notify-service: installed with the guide's --set values (a port is a
	// number, SPRING_CLOUD_CONFIG_ENABLED a bool) and passwords by name.
	notify := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "notify-service", Chart: chart("0.9.0"),
		CreateNamespace: true,
		Values: map[string]any{
			"preJob": map[string]any{"preConfig": map[string]any{"mysql": map[string]any{"host": "choerodon-mysql", "port": 3306,
				"database": "manager_service", "username": "choerodon"}},
				"preInitDB": map[string]any{"mysql": map[string]any{"host": "choerodon-mysql", "port": 3306,
					"database": "notify_service", "username": "choerodon"}}},
			"env": map[string]any{"open": map[string]any{
				"SPRING_DATASOURCE_URL":                     "jdbc:mysql://choerodon-mysql:3306/notify_service?useUnicode=true&characterEncoding=utf-8&useSSL=false",
				"SPRING_CLOUD_CONFIG_ENABLED":               true,
				"SPRING_KAFKA_BOOTSTRAP_SERVERS":            "kafka-0.kafka-headless:9092,kafka-1.kafka-headless:9092",
				"EUREKA_CLIENT_SERVICEURL_DEFAULTZONE":      "http://register-server.c7n:8000/eureka/",
				"SPRING_CLOUD_STREAM_KAFKA_BINDER_ZK_NODES": "zookeeper-0.zookeeper-headless:2181",
			}},
		},
		SetSecrets: map[string]string{"preJob.preConfig.mysql.password": "c7n-db-choerodon",
			"preJob.preInitDB.mysql.password": "c7n-db-choerodon", "env.open.SPRING_DATASOURCE_PASSWORD": "c7n-db-choerodon"}}
	twice(notify, 1)

	// iam-service: a 0.8 release with the site's values, upgraded reusing them.
	iam08 := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "iam-service", Chart: chart("0.8.0"),
		Values: map[string]any{"env": map[string]any{"open": map[string]any{"SITE": "kept"}}}}
	run(iam08)
	iam := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "iam-service", Chart: chart("0.9.0"),
		ReuseValues: true, MustExist: true}
	twice(iam, 2)

	// devops-service: reused values plus the guide's --set values.
	devops08 := iam08
	devops08.Release = "devops-service"
	run(devops08)
	devops := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "devops-service", Chart: chart("0.9.0"),
		ReuseValues: true, MustExist: true, Values: map[string]any{"env": map[string]any{"open": map[string]any{
			"AGENT_VERSION": "0.9.6", "SECURITY_IGNORED": "/ci,/webhook,/v2/api-docs,/agent/**,/ws/**,/webhook/**"}}}}
	twice(devops, 2)
}

// A try that died after helm had applied its revision but before helm
// recorded it deployed leaves it pending; the next try unlocks it (marks it
// failed) and upgrades once more. When nothing before that revision is
// deployed — an install, or an upgrade that died after helm had marked the
// revision before it superseded — helm's upgrade starts from the unlocked
// revision and marks it superseded. The release then holds one more
// completed revision than the guide made, and activities.Unlocked is what
// tells it apart (what the kill sweep found on choerodon-0.8-0.9).
func TestUnlockedRevisionHelmSupersedesStaysKnown(t *testing.T) {
	cp := lab.StartControlPlane(t)
	h := &activities.Helm{Clusters: map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}},
		ChartDirs: []string{packageCharts(t, "0.8.0", "0.9.0")}, Secrets: config.NewSecretStore(nil),
		Artifacts: &activities.Artifacts{Root: t.TempDir()}}
	var s testsuite.WorkflowTestSuite
	ns := "c7n-unlocked"
	run := func(in activities.HelmUpgradeInput) activities.HelmReleaseResult {
		t.Helper()
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(h)
		val, err := env.ExecuteActivity(h.UpgradeInstall, in)
		require.NoError(t, err)
		var res activities.HelmReleaseResult
		require.NoError(t, val.Get(&res))
		return res
	}
	// dies leaves the release's last revision as helm does when its process
	// dies after applying the manifests: pending, started by another try of
	// this step (try 1.0), the revision before it as the dying helm left it.
	dies := func(name string, pending release.Status) {
		t.Helper()
		cfg := helmConfig(t, cp.Kubeconfig, ns)
		rel, err := cfg.Releases.Last(name)
		require.NoError(t, err)
		rel.Info.Status = pending
		rel.Labels["upgrader.io/try"] = "1.0"
		require.NoError(t, cfg.Releases.Update(rel))
	}
	completed := func(name string) (all, guide int) {
		t.Helper()
		h, err := action.NewHistory(helmConfig(t, cp.Kubeconfig, ns)).Run(name)
		require.NoError(t, err)
		for _, r := range h {
			if r.Info.Status == release.StatusDeployed || r.Info.Status == release.StatusSuperseded {
				all++
				if !activities.Unlocked(r) {
					guide++
				}
			}
		}
		return all, guide
	}
	chart := func(v string) activities.ChartRef {
		return activities.ChartRef{Repo: "c7n", Name: "agile-service", Version: v}
	}

	// An install (notify-service).
	install := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "notify-service", Chart: chart("0.9.0"), CreateNamespace: true}
	run(install)
	dies("notify-service", release.StatusPendingInstall)
	res := run(install)
	require.Equal(t, 2, res.Revision)
	rev1, err := helmConfig(t, cp.Kubeconfig, ns).Releases.Get("notify-service", 1)
	require.NoError(t, err)
	require.Equal(t, release.StatusSuperseded, rev1.Info.Status, "helm's upgrade started from the unlocked revision")
	require.True(t, activities.Unlocked(rev1), rev1.Info.Description)
	all, guide := completed("notify-service")
	require.Equal(t, 2, all)
	require.Equal(t, 1, guide, "the guide installed once")

	// An upgrade whose helm had marked 0.8's revision superseded (iam-service).
	run(activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "iam-service", Chart: chart("0.8.0")})
	upgrade := activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "iam-service", Chart: chart("0.9.0"), ReuseValues: true, MustExist: true}
	run(upgrade)
	dies("iam-service", release.StatusPendingUpgrade)
	res = run(upgrade)
	require.Equal(t, 3, res.Revision)
	all, guide = completed("iam-service")
	require.Equal(t, 3, all)
	require.Equal(t, 2, guide, "0.8's install and the guide's one upgrade")

	// Not ours: a revision helm's CLI made says nothing of an unlock.
	rev3, err := helmConfig(t, cp.Kubeconfig, ns).Releases.Get("iam-service", 3)
	require.NoError(t, err)
	require.False(t, activities.Unlocked(rev3))
}
