package workflows_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

func skoalaExample(t *testing.T) *workflows.SkoalaInput {
	t.Helper()
	in := workflows.NewSkoalaInput()
	require.NoError(t, config.LoadUpgrade(filepath.Join("..", "config", "examples", "dce5-skoala.yaml"), "dce5-skoala", &in))
	return &in
}

func TestSkoalaPlanBindsEachClusterAndFansOutAfterTheCanary(t *testing.T) {
	in := skoalaExample(t)
	steps, err := in.Plan()
	require.NoError(t, err)
	require.NoError(t, runbook.ValidatePlan(steps))
	names := stepNames(steps)
	idx := func(n string) int { i := slices.Index(names, n); require.GreaterOrEqual(t, i, 0, n); return i }
	// From 0.18: the DB job before skoala; skoala before any skoala-init; the canary alone, then a gate.
	require.Less(t, idx("approve/clusters"), idx("db-upgrade/apply-job"))
	require.Less(t, idx("db-upgrade/wait-job"), idx("upgrade/skoala@dce-global"))
	require.Less(t, idx("upgrade/skoala@dce-global"), idx("upgrade/skoala-init@dce-work-a"))
	require.Less(t, idx("apply-crds/skoala-init@dce-work-a"), idx("approve/canary"))
	require.Less(t, idx("approve/canary"), idx("backup-values/skoala-init@dce-work-b"))
	for _, s := range steps {
		for _, c := range []string{"dce-work-a", "dce-work-b", "dce-work-c", "dce-global"} {
			// Trap: one kubeconfig for N clusters. A step named for a cluster acts on that cluster.
			if suffix := "@" + c; len(s.Name) > len(suffix) && s.Name[len(s.Name)-len(suffix):] == suffix {
				switch in := s.Input.(type) {
				case activities.HelmUpgradeInput:
					require.Equal(t, c, in.Cluster, s.Name)
					require.True(t, in.ReuseValues && in.Wait, s.Name)
				case activities.HelmBackupInput:
					require.Equal(t, c, in.Cluster, s.Name)
				case activities.ChartCRDsInput:
					require.Equal(t, c, in.Cluster, s.Name)
				case activities.InstalledVersionInput:
					require.Equal(t, c, in.Cluster, s.Name)
				}
			}
		}
	}
	up := steps[idx("upgrade/skoala-init@dce-work-b")]
	require.Equal(t, "workers", up.Parallel)
	require.Equal(t, &runbook.Lane{Name: "dce-work-b", Width: 4}, up.Lane)
	require.Equal(t, []string{"nacos-operator.image.tag=v0.19.2", "skoala-agent.image.tag=v0.19.2", "sentinel-operator.image.tag=v0.19.2"},
		up.Input.(activities.HelmUpgradeInput).Set)
	require.Equal(t, "0.19.2", up.Input.(activities.HelmUpgradeInput).Chart.Version)
	require.Nil(t, steps[idx("upgrade/skoala-init@dce-work-a")].Lane, "the canary runs alone")

	// From 0.19.0 the guide skips the DB job; always runs it.
	in.From = "0.19.0"
	steps, err = in.Plan()
	require.NoError(t, err)
	require.NotContains(t, stepNames(steps), "db-upgrade/apply-job")
	in.DBUpgrade.When = "always"
	steps, err = in.Plan()
	require.NoError(t, err)
	require.Contains(t, stepNames(steps), "db-upgrade/apply-job")
}

func TestSkoalaValidateNamesEveryProblemByKey(t *testing.T) {
	in := skoalaExample(t)
	in.From = "latest"
	in.To = "v0.19"
	in.Workers = []string{"dce-work-a", "dce-work-a", "dce-global", "Bad_Name"}
	in.Canary = "dce-work-z"
	in.Parallelism = 0
	in.ImageTags.SkoalaInit = []string{"a=b"}
	in.DBUpgrade.When = "sometimes"
	err := in.Validate()
	require.Error(t, err)
	for _, key := range []string{"from", "to", "workers[1]", "workers[2]", "workers[3]", "canary", "parallelism",
		"imageTags.skoalaInit[0]", "dbUpgrade.when"} {
		require.Contains(t, err.Error(), key+":", key)
	}
	in = skoalaExample(t)
	in.DBUpgrade.JobFile = "job.yaml"
	require.ErrorContains(t, in.Validate(), "dbUpgrade.jobFile")
	in.From = "0.19.1" // no DB job: its file is not needed
	require.NoError(t, in.Validate())
}
