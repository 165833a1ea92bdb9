package runbook_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

// Inputs shaped as the activities' are (activities.SSHTarget,
// DBTarget, a cluster name): the runbook reads targets from their JSON.
type (
	hostIn struct {
		Host struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"host"`
	}
	clusterIn struct {
		Cluster string `json:"cluster"`
	}
	dbIn struct {
		DB struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"db"`
	}
	hostsIn struct {
		Hosts []struct {
			Name string `json:"name"`
		} `json:"hosts"`
	}
	pathIn struct {
		Path string `json:"path"`
	}
)

func act() {}

func TestStepsGoToTheSiteOfWhatTheyActOn(t *testing.T) {
	var h hostIn
	h.Host.Name, h.Host.Address = "bk-1", "10.0.0.1:22"
	var d dbIn
	d.DB.Name, d.DB.Address = "mysql", "10.1.0.5:3306"
	plan := []runbook.Step{
		{Name: "run/host", Kind: runbook.KindHost, Activity: act, Input: h},
		{Name: "helm/x", Kind: runbook.KindHelm, Activity: act, Input: clusterIn{Cluster: "member-b"}},
		{Name: "backup-db/mysql", Kind: runbook.KindBackup, Activity: act, Input: d},
		{Name: "verify-backup/mysql", Kind: runbook.KindCheck, Activity: act, Input: pathIn{},
			Inputs: map[string]runbook.From{"path": {Step: "backup-db/mysql", Output: "path"}}},
		{Name: "call/api", Kind: runbook.KindHTTP, Activity: act, Input: pathIn{}},
		{Name: "approve/x", Kind: runbook.KindGate, Gate: &runbook.Gate{Prompt: "ok?"}},
		{Name: "pinned", Kind: runbook.KindCheck, Activity: act, Input: clusterIn{Cluster: "member-b"}, Site: "a"},
	}
	sites := map[string]runbook.Site{
		"a": {TaskQueue: "q-a", Hosts: []string{"bk-1"}, Databases: []string{"10.1.0.5:3306"}},
		"b": {TaskQueue: "q-b", Clusters: []string{"member-b"}, Steps: []string{"call/*"}},
	}
	require.Equal(t, runbook.StepTargets{Hosts: []string{"bk-1", "10.0.0.1:22"}}, runbook.TargetsOf(plan[0]))
	want := map[string]string{"run/host": "a", "helm/x": "b", "backup-db/mysql": "a",
		"verify-backup/mysql": "a", // where the dump it re-hashes was written
		"call/api":            "b", "approve/x": "", "pinned": "a"}
	for _, s := range plan {
		require.Equal(t, want[s.Name], runbook.SiteOf(sites, plan, s), s.Name)
	}
	site, queue := runbook.QueueOf(sites, plan, plan[1])
	require.Equal(t, [2]string{"b", "q-b"}, [2]string{site, queue})
	require.NoError(t, runbook.CheckSites(runbook.Target{Sites: sites}, plan))

	// No sites: every step on the run's own queue, as before sites existed.
	for _, s := range plan[:6] {
		site, queue := runbook.QueueOf(nil, plan, s)
		require.Empty(t, site+queue, s.Name)
	}
}

func TestSitesThatDoNotFitThePlanAreNamedByKey(t *testing.T) {
	var hs hostsIn
	hs.Hosts = append(hs.Hosts, struct {
		Name string `json:"name"`
	}{"bk-1"}, struct {
		Name string `json:"name"`
	}{"bk-2"})
	plan := []runbook.Step{
		{Name: "preflight/ssh", Kind: runbook.KindCheck, Activity: act, Input: hs},
		{Name: "helm/x", Kind: runbook.KindHelm, Activity: act, Input: clusterIn{Cluster: "c7n"}},
		{Name: "pinned", Kind: runbook.KindCheck, Activity: act, Input: pathIn{}, Site: "nowhere"},
	}
	err := runbook.CheckSites(runbook.Target{Sites: map[string]runbook.Site{
		"a": {TaskQueue: "q-a", Hosts: []string{"bk-1"}, Clusters: []string{"c9"}},
		"b": {TaskQueue: "q-b", Hosts: []string{"bk-2"}, Steps: []string{"upgrade/*"}},
	}}, plan)
	require.Error(t, err)
	for _, want := range []string{
		"step preflight/ssh is claimed by sites a (host bk-1), b (host bk-2)",
		`sites.a.clusters[0]: no step acts on "c9"; the plan's clusters: c7n`,
		`sites.b.steps[0]: "upgrade/*" names no step of the plan`,
		`step pinned runs in site "nowhere", which sites: does not have`,
	} {
		require.Contains(t, err.Error(), want)
	}
	// Without sites only a step pinned to a site is wrong.
	err = runbook.CheckSites(runbook.Target{}, plan)
	require.ErrorContains(t, err, `step pinned runs in site "nowhere"`)
	require.NoError(t, runbook.CheckSites(runbook.Target{}, plan[:2]))
}
