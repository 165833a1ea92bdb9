package activities_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/activities"
	"upgrader/internal/contract"
	"upgrader/tests/lab"
)

// TestHelm2ReleasesReadConvertedAndCleanedUp: a site whose releases Tiller
// keeps (ConfigMaps in kube-system, written as Helm 2 writes them) is read
// by the preflight checks and the values backup, converted to Helm 3 the
// way the 2to3 plugin does (every revision: chart, values, manifest,
// status), converted again without change (a retry), and its Tiller
// records removed only by the cleanup.
func TestHelm2ReleasesReadConvertedAndCleanedUp(t *testing.T) {
	cp := lab.StartControlPlane(t)
	site := &lab.C7NSite{Kubeconfig: cp.Kubeconfig, Charts: t.TempDir(), ChartSrc: "../tests/testdata/charts/c7n-service", Instant: true}
	ns, tns := "c7n-system", "kube-system"
	for _, v := range []string{"0.21.0", "0.21.1"} {
		require.NoError(t, site.Package("agile-service", v, lab.PodBehaviour{Port: 8379}))
	}
	require.NoError(t, site.Package("base-service", "0.21.0", lab.PodBehaviour{Port: 8031}))
	require.NoError(t, site.Install(ns, "base-service", "base-service", "0.21.0", map[string]any{"env": map[string]any{"open": map[string]any{"PW": "old-pw"}}}))
	require.NoError(t, site.Install(ns, "agile-service", "agile-service", "0.21.0", map[string]any{"site": "a"}))
	cfg, err := site.Helm(ns)
	require.NoError(t, err)
	ch, err := loader.Load(filepath.Join(site.Charts, "agile-service-0.21.1.tgz"))
	require.NoError(t, err)
	_, err = action.NewUpgrade(cfg).Run("agile-service", ch, map[string]any{"site": "b"})
	require.NoError(t, err)
	before, err := action.NewHistory(cfg).Run("agile-service")
	require.NoError(t, err)
	require.NoError(t, site.ToHelm2(ns, tns, []string{"base-service", "agile-service"}))
	_, err = action.NewGet(cfg).Run("agile-service")
	require.Error(t, err, "Helm 3 no longer sees it")

	clusters := map[string]activities.Cluster{"lab": {Kubeconfig: cp.Kubeconfig}}
	art := t.TempDir()
	h := &activities.Helm{Clusters: clusters, Artifacts: &activities.Artifacts{Root: art}}
	p := &activities.Preflight{Clusters: clusters}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	env.RegisterActivity(p)

	// Preflight: the list the conversion gate shows, and the versions.
	val, err := env.ExecuteActivity(p.CheckHelm2Releases, activities.Helm2CheckInput{Cluster: "lab", Namespace: ns,
		Releases: []string{"base-service", "agile-service"}})
	require.NoError(t, err)
	var out contract.Outcome
	require.NoError(t, val.Get(&out))
	require.Equal(t, "  base-service: chart base-service-0.21.0, revision 1 DEPLOYED\n  agile-service: chart agile-service-0.21.1, revision 2 DEPLOYED",
		out.Outputs["releases"])
	rows, err := preflightRows(t, env, p.CheckReleases, activities.ReleasesCheckInput{Cluster: "lab", Namespace: ns, From: "0.21", Helm2: true,
		Releases: []activities.ReleaseNeeds{{Name: "base-service", Guide: "base-service", AtFrom: true}, {Name: "agile-service", Guide: "agile-service"}}})
	require.NoError(t, err)
	require.Contains(t, row(t, rows, "release", "agile-service").Found, "Helm 2 revision 2 DEPLOYED, chart 0.21.1")
	rows, err = preflightRows(t, env, p.CheckReleases, activities.ReleasesCheckInput{Cluster: "lab", Namespace: ns, From: "0.21", Helm2: true,
		Releases: []activities.ReleaseNeeds{{Name: "agile", Guide: "agile-service"}}})
	require.Error(t, err, "missing from both stores")
	require.Contains(t, row(t, rows, "release", "agile").Found, "Helm 2 (Tiller's records): agile-service, base-service")
	rows, err = preflightRows(t, env, p.CheckReleases, activities.ReleasesCheckInput{Cluster: "lab", Namespace: ns, From: "0.21",
		Releases: []activities.ReleaseNeeds{{Name: "base-service", Guide: "base-service", AtFrom: true}}})
	require.Error(t, err, "without helm2.convert a Helm 2 site is refused")
	require.Contains(t, row(t, rows, "release", "base-service").Fix, "helm2: {convert: true")
	_, err = env.ExecuteActivity(h.CheckInstalledVersion, activities.InstalledVersionInput{Cluster: "lab", Namespace: ns, From: "0.21", Helm2: true,
		Releases: []string{"base-service", "agile-service"}})
	require.NoError(t, err)

	// The values backup reads Tiller's records.
	val, err = env.ExecuteActivity(h.BackupReleaseValues, activities.HelmBackupInput{Cluster: "lab", Namespace: ns, TillerNamespace: tns})
	require.NoError(t, err)
	var backup activities.HelmBackupResult
	require.NoError(t, val.Get(&backup))
	require.Len(t, backup.Files, 2, backup.Summary)
	b, err := os.ReadFile(backup.Outputs["path.base-service"])
	require.NoError(t, err)
	require.Contains(t, string(b), "old-pw")
	// What an undo re-installs from, once the guide has deleted the
	// converted release: the chart of Tiller's newest record.
	require.Equal(t, "base-service", backup.Outputs["chart.base-service"])
	require.Equal(t, "0.21.0", backup.Outputs["version.base-service"])

	// Conversion: every revision, as Helm 3 keeps releases; Tiller's kept.
	in := activities.ConvertHelm2Input{Cluster: "lab", Namespace: ns, Releases: []string{"base-service", "agile-service"}}
	val, err = env.ExecuteActivity(h.ConvertHelm2, in)
	require.NoError(t, err)
	var conv activities.ConvertHelm2Result
	require.NoError(t, val.Get(&conv))
	require.Equal(t, []string{"base-service r1", "agile-service r1-r2"}, conv.Converted)
	after, err := action.NewHistory(cfg).Run("agile-service")
	require.NoError(t, err)
	require.Len(t, after, 2)
	for i, r := range after {
		require.Equal(t, before[i].Version, r.Version)
		require.Equal(t, before[i].Info.Status, r.Info.Status)
		require.Equal(t, before[i].Manifest, r.Manifest)
		require.Equal(t, before[i].Config, r.Config)
		require.Equal(t, before[i].Chart.Metadata.Version, r.Chart.Metadata.Version)
		require.Equal(t, before[i].Chart.Values, r.Chart.Values)
		require.Len(t, r.Chart.Templates, len(before[i].Chart.Templates))
	}
	require.Equal(t, release.StatusDeployed, after[1].Info.Status)
	vals, err := action.NewGetValues(cfg).Run("base-service")
	require.NoError(t, err)
	require.Equal(t, "old-pw", vals["env"].(map[string]any)["open"].(map[string]any)["PW"])
	kc := kubeClient(t, cp.Kubeconfig)
	cms, err := kc.CoreV1().ConfigMaps(tns).List(context.Background(), metav1.ListOptions{LabelSelector: "OWNER=TILLER"})
	require.NoError(t, err)
	require.Len(t, cms.Items, 3, "Tiller's records stay until the cleanup")

	// Again (a retry after a lost worker): nothing written twice.
	val, err = env.ExecuteActivity(h.ConvertHelm2, in)
	require.NoError(t, err)
	var again activities.ConvertHelm2Result
	require.NoError(t, val.Get(&again))
	require.Empty(t, again.Converted)
	require.Equal(t, []string{"base-service r1", "agile-service r1-r2"}, again.Kept)

	// The cleanup removes the records of the named releases only.
	val, err = env.ExecuteActivity(h.RemoveTillerRecords, activities.RemoveTillerRecordsInput{Cluster: "lab", Namespace: ns, Releases: []string{"agile-service"}})
	require.NoError(t, err)
	var rm activities.RemoveTillerRecordsResult
	require.NoError(t, val.Get(&rm))
	require.Equal(t, []string{"ConfigMap kube-system/agile-service.v1", "ConfigMap kube-system/agile-service.v2"}, rm.Removed)
	cms, err = kc.CoreV1().ConfigMaps(tns).List(context.Background(), metav1.ListOptions{LabelSelector: "OWNER=TILLER"})
	require.NoError(t, err)
	require.Len(t, cms.Items, 1)
	require.Equal(t, "base-service.v1", cms.Items[0].Name)
}
