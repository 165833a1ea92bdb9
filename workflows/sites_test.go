package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// TestSitesRulesNameTheirKey: a config's sites: are checked with the rest
// of the config, each problem by key, before any step runs.
func TestSitesRulesNameTheirKey(t *testing.T) {
	for _, c := range []struct {
		name  string
		sites map[string]runbook.Site
		key   string
		says  string
	}{
		{"no task queue", map[string]runbook.Site{"b": {Clusters: []string{"c7n"}}}, "sites.b.taskQueue", "is empty"},
		{"bad task queue", map[string]runbook.Site{"b": {TaskQueue: "q b", Clusters: []string{"c7n"}}}, "sites.b.taskQueue", "not a task queue name"},
		{"bad site name", map[string]runbook.Site{"Site_B": {TaskQueue: "q", Clusters: []string{"c7n"}}}, "sites.Site_B (key)", "not a site name"},
		{"empty site", map[string]runbook.Site{"b": {TaskQueue: "q"}}, "sites.b", "no step would run there"},
		{"cluster in two sites", map[string]runbook.Site{"a": {TaskQueue: "qa", Clusters: []string{"c7n"}}, "b": {TaskQueue: "qb", Clusters: []string{"c7n"}}},
			"sites.b.clusters[0]", `"c7n" is also sites.a.clusters[0]`},
		{"bad step pattern", map[string]runbook.Site{"b": {TaskQueue: "q", Steps: []string{"upgrade/["}}}, "sites.b.steps[0]", "not a step name or pattern"},
		// Checked against the plan:
		{"unknown cluster", map[string]runbook.Site{"b": {TaskQueue: "q", Clusters: []string{"c9"}}}, "sites.b.clusters[0]", `no step acts on "c9"; the plan's clusters: c7n`},
		{"unknown database", map[string]runbook.Site{"b": {TaskQueue: "q", Databases: []string{"mysql"}}}, "sites.b.databases[0]", "choerodon-mysql"},
		{"step pattern matching nothing", map[string]runbook.Site{"b": {TaskQueue: "q", Steps: []string{"upgrade/hzero-iamm"}}}, "sites.b.steps[0]", "names no step"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c7n021Input()
			in.Sites = c.sites
			steps, err := in.Plan()
			if err == nil {
				err = runbook.CheckConfig(in.Target, steps)
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), c.key+":")
			require.Contains(t, err.Error(), c.says)
		})
	}
}

// TestAChoerodonPlanAcrossTwoSites: the database in one network zone, the
// cluster in another; the dump's re-hash runs where the dump was written.
func TestAChoerodonPlanAcrossTwoSites(t *testing.T) {
	in := c7n021Input()
	in.Sites = map[string]runbook.Site{
		"dc-k8s": {TaskQueue: "upgrader-dc-k8s", Clusters: []string{"c7n"}},
		"dc-db":  {TaskQueue: "upgrader-dc-db", Databases: []string{"choerodon-mysql"}},
	}
	steps, err := in.Plan()
	require.NoError(t, err)
	require.NoError(t, runbook.CheckConfig(in.Target, steps))
	by := map[string]int{}
	for _, s := range steps {
		if s.Expand != nil {
			s = s.Expand.Build(runbook.ItemPlaceholder)
		}
		site, queue := runbook.QueueOf(in.Sites, steps, s)
		if site != "" {
			require.Equal(t, in.Sites[site].TaskQueue, queue)
		}
		by[site]++
		switch s.Name {
		case "backup-db/mysql", "verify-backup/mysql", "preflight/mysql":
			require.Equal(t, "dc-db", site, s.Name)
		case "upgrade/hzero-iam":
			require.Equal(t, "dc-k8s", site, s.Name)
		}
	}
	require.Greater(t, by["dc-k8s"], 40)
	require.Greater(t, by[""], 0, "gates and steps acting on no site's member stay on the run's queue")
	var _ workflows.Input = &in
}

// TestExampleSitesFitTheirPlans: each example's commented sites: block,
// uncommented, is a valid config for its guide that sends steps to sites.
func TestExampleSitesFitTheirPlans(t *testing.T) {
	for _, g := range workflows.Guides() {
		t.Run(g.Name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", g.Example))
			require.NoError(t, err)
			var block []string
			for _, l := range strings.Split(string(raw), "\n") {
				if l == "# sites:" || (len(block) > 0 && strings.HasPrefix(l, "#   ")) {
					block = append(block, strings.TrimPrefix(l, "# "))
				}
			}
			require.NotEmpty(t, block, "the example shows sites: (commented)")
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, append(raw, []byte(strings.Join(block, "\n")+"\n")...), 0o600))
			in := g.NewInput()
			require.NoError(t, config.LoadUpgrade(path, g.Name, in))
			require.NotEmpty(t, in.GetTarget().Sites)
			steps, err := in.Plan()
			require.NoError(t, err)
			require.NoError(t, runbook.CheckConfig(*in.GetTarget(), steps))
			sited := 0
			for _, s := range steps {
				if runbook.SiteOf(in.GetTarget().Sites, steps, s) != "" {
					sited++
				}
			}
			require.Positive(t, sited)
		})
	}
}
