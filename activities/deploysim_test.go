package activities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/tests/lab"
)

// A release upgraded through helm's Go API gets a new pod from the lab's
// deployment simulator; the checks after an upgrade look at the new
// revision's pod only, never at the old one that still answers and still
// holds last time's log lines.
func TestChecksAfterAnUpgradeSeeTheNewRevisionOnly(t *testing.T) {
	cp := lab.StartControlPlane(t)
	sim := lab.StartPodSim(t, cp)
	deploys := lab.StartDeploymentSim(t, sim)
	charts := t.TempDir()
	for _, v := range []string{"0.21.0", "0.21.1"} {
		require.NoError(t, lab.PackageChart(charts, "../tests/testdata/charts/c7n-service", "knowledgebase-service", v,
			map[string]any{"port": 8281, "serve": "actuator", "upAfter": "0s", "logAfter": "3s",
				"log": []any{"Data Fix Succeed!!! FINISHED!!! (" + v + ")"}}))
	}
	clusters := map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}}
	h := &activities.Helm{Clusters: clusters, ChartDirs: []string{charts}, Secrets: config.NewSecretStore(nil),
		Artifacts: &activities.Artifacts{Root: t.TempDir()}}
	k := &activities.Kube{Clusters: clusters, PollInterval: 100 * time.Millisecond}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	env.RegisterActivity(k)
	ns := "c7n-system"
	install := func(v string) {
		_, err := env.ExecuteActivity(h.UpgradeInstall, activities.HelmUpgradeInput{Cluster: "lab", Namespace: ns, Release: "knowledgebase-service",
			Chart: activities.ChartRef{Repo: "c7n", Name: "knowledgebase-service", Version: v}, CreateNamespace: true})
		require.NoError(t, err)
	}
	follow := func() string {
		val, err := env.ExecuteActivity(k.FollowLog, activities.FollowLogInput{Cluster: "lab", Namespace: ns, Release: "knowledgebase-service",
			Success: `Data Fix Succeed!!! FINISHED!!!`, Failure: []string{"Exception"}, NewRevisionOnly: true})
		require.NoError(t, err)
		var res activities.FollowLogResult
		require.NoError(t, val.Get(&res))
		return res.Match
	}
	install("0.21.0")
	require.Contains(t, follow(), "(0.21.0)")
	_, err := env.ExecuteActivity(k.WaitUp, activities.WaitUpInput{Cluster: "lab", Namespace: ns, Release: "knowledgebase-service",
		Port: 8281, Path: "/actuator/health", Expect: activities.WaitHTTPInput{JSONField: "status", Equals: "UP"}, NewRevisionOnly: true})
	require.NoError(t, err)

	time.Sleep(1100 * time.Millisecond) // the new revision is written in a later second than the old pod
	install("0.21.1")
	require.Contains(t, follow(), "(0.21.1)", "the old pod's line does not count")
	require.Equal(t, 2, deploys.Started(ns, "knowledgebase-service"))
}
