package integration_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	labsrv "upgrader/tests/lab"
	"upgrader/workflows/runbook"
)

// skoalaLab is a DCE 5.0 installation in the lab: a control-plane cluster
// running skoala (and kpanda's Cluster objects) and worker clusters running
// skoala-init, each a real API server of its own, with a chart mirror and
// the worker config that reaches each by its own kubeconfig.
type skoalaLab struct {
	clusters  []*labsrv.SkoalaCluster // [0] is the control plane
	root      string
	charts    string
	artifacts string
	workerCfg string
	jobFile   string
}

const skoalaNS = "skoala-system"

func newSkoalaLab(t testing.TB, workers int, from string) *skoalaLab {
	t.Helper()
	return newSkoalaLabOn(t, server.FrontendHostPort(), workers, from)
}

// newSkoalaLabOn is newSkoalaLab with a worker config that reaches the
// Temporal frontend at address (the kill sweep runs its own server).
func newSkoalaLabOn(t testing.TB, address string, workers int, from string) *skoalaLab {
	t.Helper()
	l := &skoalaLab{root: t.TempDir()}
	names := []string{"dce-global"}
	for i := 1; i <= workers; i++ {
		names = append(names, fmt.Sprintf("dce-work-%d", i))
	}
	l.clusters = labsrv.StartSkoalaClusters(t, names...)
	l.charts = filepath.Join(l.root, "charts")
	l.artifacts = filepath.Join(l.root, "artifacts")
	require.NoError(t, labsrv.PackageSkoalaCharts(l.charts, "0.18.3", "0.19.0", "0.19.2"))
	// Each cluster has its own values: a worker config that used one
	// kubeconfig for all would show up as another cluster's values.
	require.NoError(t, l.clusters[0].Install(l.charts, skoalaNS, "skoala", from, map[string]any{
		"hive": map[string]any{"configMap": map[string]any{"database": []any{map[string]any{"dsn": "skoala@tcp(mcamel-common-mysql-cluster-mysql.mcamel-system:3306)/skoala"}}}}}))
	for _, c := range l.clusters[1:] {
		require.NoError(t, c.Install(l.charts, skoalaNS, "skoala-init", from, map[string]any{
			"skoala-agent": map[string]any{"clusterName": c.Name}}))
	}
	require.NoError(t, l.clusters[0].RegisterKpanda(names[1:]...))
	l.jobFile = skoalaWrite(t, filepath.Join(l.root, "job.yaml"), labsrv.SkoalaDBJob("skoala-db-upgrade", "2s",
		[]string{"sweet: UPGRADE from 0.17.0 with v0.19.0", "migrated 12 tables"}))
	var b strings.Builder
	fmt.Fprintf(&b, "temporal:\n  address: %s\nartifactDir: %s\nchartDirs: [%s]\nclusters:\n", address, l.artifacts, l.charts)
	for _, c := range l.clusters {
		fmt.Fprintf(&b, "  %s:\n    kubeconfig: %s\n", c.Name, c.CP.Kubeconfig)
	}
	l.workerCfg = skoalaWrite(t, filepath.Join(l.root, "worker.yaml"), b.String())
	return l
}

func (l *skoalaLab) config(t testing.TB, env, from string, parallelism int) string {
	var workers []string
	for _, c := range l.clusters[1:] {
		workers = append(workers, c.Name)
	}
	return skoalaWrite(t, filepath.Join(l.root, env+".yaml"), fmt.Sprintf(`
guide: dce5-skoala
environment: %s
from: %q
to: "0.19.2"
controlPlane: dce-global
workers: [%s]
parallelism: %d
dbUpgrade: {when: auto, jobFile: %s, jobName: skoala-db-upgrade, timeout: 2m}
helmTimeout: 2m
`, env, from, strings.Join(workers, ", "), parallelism, l.jobFile))
}

// skoalaWrite writes a lab file (tests and benchmarks alike).
func skoalaWrite(t testing.TB, path, content string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func (l *skoalaLab) helm(t *testing.T, c *labsrv.SkoalaCluster) *action.Configuration {
	cfg, err := c.Helm(skoalaNS)
	require.NoError(t, err)
	return cfg
}

func (l *skoalaLab) history(t *testing.T, c *labsrv.SkoalaCluster, rel string) []*release.Release {
	h, err := action.NewHistory(l.helm(t, c)).Run(rel)
	require.NoError(t, err)
	return h
}

func skoalaReleaseOf(i int) string {
	if i == 0 {
		return "skoala"
	}
	return "skoala-init"
}

// checkEndState asserts every cluster's release is deployed at 0.19.2 with
// its own values kept and the guide's image tags, upgraded by exactly one
// completed revision (a try cut short by a killed worker may leave one
// revision that the next try marked failed, never a second upgrade).
func (l *skoalaLab) checkEndState(t *testing.T) {
	t.Helper()
	for i, c := range l.clusters {
		rel := skoalaReleaseOf(i)
		hist := l.history(t, c, rel)
		completed := 0
		for _, r := range hist[1:] {
			switch r.Info.Status {
			case release.StatusDeployed, release.StatusSuperseded:
				completed++
				require.Equal(t, "0.19.2", r.Chart.Metadata.Version, "%s %s", c.Name, rel)
			case release.StatusFailed:
				require.Contains(t, r.Info.Description, "its try of step upgrade/", "%s %s revision %d failed: %s", c.Name, rel, r.Version, r.Info.Description)
			default:
				t.Fatalf("%s %s revision %d is %s", c.Name, rel, r.Version, r.Info.Status)
			}
		}
		require.Equal(t, 1, completed, "%s %s upgraded once: %d revisions", c.Name, rel, len(hist))
		last := hist[len(hist)-1]
		require.Equal(t, release.StatusDeployed, last.Info.Status)
		vals, err := action.NewGetValues(l.helm(t, c)).Run(rel)
		require.NoError(t, err)
		if i == 0 {
			require.Equal(t, "v0.19.2", vals["hive"].(map[string]any)["image"].(map[string]any)["tag"])
			require.Equal(t, "v0.19.2", vals["sesame"].(map[string]any)["image"].(map[string]any)["tag"])
			require.NotNil(t, vals["hive"].(map[string]any)["configMap"], "the control plane kept its values")
		} else {
			agent := vals["skoala-agent"].(map[string]any)
			require.Equal(t, c.Name, agent["clusterName"], "%s kept its own values", c.Name)
			require.Equal(t, "v0.19.2", agent["image"].(map[string]any)["tag"])
			for _, k := range []string{"nacos-operator", "sentinel-operator"} {
				require.Equal(t, "v0.19.2", vals[k].(map[string]any)["image"].(map[string]any)["tag"], "%s %s", c.Name, k)
			}
			// The gateway CRDs helm left at 0.18's: updated in place.
			dyn := l.dynamic(t, c)
			crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
			_, err := crds.Get(context.Background(), "extensionservices.projectcontour.io", metav1.GetOptions{})
			require.NoError(t, err, "%s: new CRD applied", c.Name)
			hp, err := crds.Get(context.Background(), "httpproxies.projectcontour.io", metav1.GetOptions{})
			require.NoError(t, err)
			require.Contains(t, fmt.Sprint(hp.Object["spec"]), "timeoutPolicy", "%s: changed CRD updated", c.Name)
		}
		// The new pods run the new images.
		dep, err := l.kube(t, c).AppsV1().Deployments(skoalaNS).Get(context.Background(), map[bool]string{true: "hive", false: "skoala-agent"}[i == 0], metav1.GetOptions{})
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(dep.Spec.Template.Spec.Containers[0].Image, ":v0.19.2"), dep.Spec.Template.Spec.Containers[0].Image)
	}
}

func (l *skoalaLab) kube(t *testing.T, c *labsrv.SkoalaCluster) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.CP.Kubeconfig)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return cs
}

func (l *skoalaLab) dynamic(t *testing.T, c *labsrv.SkoalaCluster) dynamic.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.CP.Kubeconfig)
	require.NoError(t, err)
	d, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	return d
}

// TestSkoalaFrom018EndToEndOnTheLab upgrades a control plane and three
// worker clusters from 0.18.3: the DB job runs before skoala, the canary
// goes alone, the other two side by side, and the worker is killed while
// they run; a new worker finishes without upgrading any release twice.
func TestSkoalaFrom018EndToEndOnTheLab(t *testing.T) {
	l := newSkoalaLab(t, 3, "0.18.3")
	cfg := l.config(t, "lab018", "0.18", 2)
	id := runbook.WorkflowID("dce5-skoala", "lab018")

	plan := mustStarter(t, l.workerCfg, "plan", "dce5-skoala", "-c", cfg)
	for _, s := range []string{"db-upgrade/wait-job", "upgrade/skoala@dce-global", "upgrade/skoala-init@dce-work-1", "approve/canary",
		"upgrade/skoala-init@dce-work-3", "verify/end-state"} {
		require.Contains(t, plan, s)
	}
	w := startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "dce5-skoala", "-c", cfg)

	// Nothing changes before a person has seen the preflight.
	eventually(t, 2*time.Minute, "the clusters gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })
	st := status(t, id)
	require.Equal(t, "approve/clusters", st.CurrentStep)
	require.Contains(t, st.Step("preflight/kpanda-clusters").Result, "dce-work-3")
	require.Contains(t, st.Step("preflight/crds@dce-work-2").Result, "extensionservices.projectcontour.io: not served (new)")
	require.Contains(t, st.Step("preflight/crds@dce-work-2").Result, "httpproxies.projectcontour.io: differs")
	require.Len(t, l.history(t, l.clusters[0], "skoala"), 1)

	restart := func() {
		time.Sleep(time.Second)
		w.kill(t)
		w = startWorker(t, l.workerCfg)
	}
	st = operate(t, l.workerCfg, id, 4*time.Minute, map[string]func(){"upgrade/skoala-init@dce-work-2": restart})
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	require.Contains(t, st.Step("db-upgrade/wait-job").Result, "completed")
	require.Contains(t, st.Step("verify/end-state").Result, "all 4 clusters at the target version")
	l.checkEndState(t)
	job, err := l.kube(t, l.clusters[0]).BatchV1().Jobs(skoalaNS).Get(context.Background(), "skoala-db-upgrade", metav1.GetOptions{})
	require.NoError(t, err)
	require.EqualValues(t, 1, job.Status.Succeeded)
	// The values backups, one per cluster.
	for i, c := range l.clusters {
		matches, _ := filepath.Glob(filepath.Join(l.artifacts, "upgrade", "dce5-skoala", "lab018", "*", "values", c.Name, skoalaNS, skoalaReleaseOf(i)+".yaml"))
		require.Len(t, matches, 1, "backup of %s", c.Name)
	}
	// The clusters' credentials stay on the worker.
	var tokens []string
	for _, c := range l.clusters {
		tokens = append(tokens, c.CP.Token)
	}
	assertNoSecrets(t, id, l.artifacts, 20, tokens...)
	recordHistory(t, id, "dce5-skoala-history.json")
}

// TestSkoalaFrom019OneClusterFailsOnlyItsLanePauses upgrades from 0.19.0:
// no DB job. One worker cluster's release is left pending by someone else:
// only that cluster's lane pauses, the others finish; once it is cleared,
// `decide … retry` on that cluster's step completes the run.
func TestSkoalaFrom019OneClusterFailsOnlyItsLanePauses(t *testing.T) {
	l := newSkoalaLab(t, 3, "0.19.0")
	cfg := l.config(t, "lab019", "0.19.0", 2)
	id := runbook.WorkflowID("dce5-skoala", "lab019")
	plan := mustStarter(t, l.workerCfg, "plan", "dce5-skoala", "-c", cfg)
	require.NotContains(t, plan, "db-upgrade/")

	// Someone else's upgrade of skoala-init on dce-work-3 died half-way.
	bad := l.clusters[3]
	hcfg := l.helm(t, bad)
	last, err := hcfg.Releases.Last("skoala-init")
	require.NoError(t, err)
	stuck := *last
	stuck.Version++
	stuck.Info = &release.Info{Status: release.StatusPendingUpgrade, Description: "Upgrade in progress (by hand)",
		FirstDeployed: last.Info.FirstDeployed, LastDeployed: last.Info.LastDeployed}
	require.NoError(t, hcfg.Releases.Create(&stuck))

	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "dce5-skoala", "-c", cfg)
	st := operate(t, l.workerCfg, id, 3*time.Minute, nil)
	require.Equal(t, runbook.RunFailedAwaiting, st.State, "%+v", st)
	require.Equal(t, "upgrade/skoala-init@dce-work-3", st.CurrentStep)
	// The other lane goes on to its end; nothing after the group runs.
	eventually(t, time.Minute, "dce-work-2's lane", func() bool {
		st := status(t, id)
		return st.Step("apply-crds/skoala-init@dce-work-2").State == runbook.StepDone
	})
	st = status(t, id)
	require.Contains(t, st.Step("upgrade/skoala-init@dce-work-3").LastError, "pending")
	require.Equal(t, runbook.StepPending, st.Step("apply-crds/skoala-init@dce-work-3").State)
	require.Equal(t, runbook.StepPending, st.Step("verify/end-state").State)
	out := mustStarter(t, l.workerCfg, "status", id)
	require.Contains(t, out, "decide "+id+" upgrade/skoala-init@dce-work-3")

	// The operator clears the stuck revision (helm rollback would do) and retries that cluster.
	_, err = hcfg.Releases.Delete("skoala-init", stuck.Version)
	require.NoError(t, err)
	mustStarter(t, l.workerCfg, "decide", id, "upgrade/skoala-init@dce-work-3", "retry")
	st = operate(t, l.workerCfg, id, 2*time.Minute, nil)
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	l.checkEndState(t)
}

// skoalaChaosSite is the kill sweep's DCE 5 site: a control plane and two
// worker clusters from 0.18.3; its facts are every cluster's Helm revisions.
func skoalaChaosSite(t testing.TB, address, env string) chaosSite {
	l := newSkoalaLabOn(t, address, 2, "0.18.3")
	return chaosSite{workerCfg: l.workerCfg, runCfg: l.config(t, env, "0.18", 2), facts: func(t testing.TB) map[string]int {
		facts := map[string]int{}
		for i, c := range l.clusters {
			cfg, err := c.Helm(skoalaNS)
			require.NoError(t, err)
			for k, v := range helmRevisionFacts(t, cfg, skoalaReleaseOf(i)) {
				facts[c.Name+" "+k] = v
			}
		}
		return facts
	}}
}
