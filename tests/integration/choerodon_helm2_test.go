package integration_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	labsrv "upgrader/tests/lab"
	"upgrader/workflows/runbook"
)

// tillerRecords counts Tiller's records (OWNER=TILLER) in kube-system.
func (l *c7nLab) tillerRecords(t testing.TB) int {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", l.cp.Kubeconfig)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	cms, err := cs.CoreV1().ConfigMaps("kube-system").List(context.Background(), metav1.ListOptions{LabelSelector: "OWNER=TILLER"})
	require.NoError(t, err)
	return len(cms.Items)
}

// withHelm2 appends helm2.convert to a run config.
func withHelm2(t testing.TB, cfg string) string {
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("helm2: {convert: true, tillerNamespace: kube-system}\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return cfg
}

// seedC7N021Helm2 seeds a 0.21 site the Helm 2 way: every release's
// record in Tiller's ConfigMaps in kube-system (as Helm 2 writes them),
// none in Helm 3's storage, the workloads running.
func seedC7N021Helm2(t testing.TB, l *c7nLab, ns string) []string {
	require.NoError(t, l.site.PackageC7N021([]string{"迁移 emailConfig", "修复完成，正常退出"}, 0))
	require.NoError(t, l.site.SeedC7N021(ns, l.sql(t), true))
	all := append([]string{}, labsrv.C7N021OldReleases...)
	for _, c := range labsrv.C7N021Business {
		all = append(all, c.Name)
	}
	require.NoError(t, l.site.ToHelm2(ns, "kube-system", all))
	for _, r := range all {
		require.Equal(t, 0, l.revisions(t, ns, r), "%s: Helm 3 does not see a Helm 2 release", r)
	}
	return all
}

// TestChoerodon021Helm2SiteConvertedAndUpgraded: a 0.21 site whose
// releases Tiller keeps is converted after a person approves the list,
// upgraded as a Helm 3 site, and its Tiller records are removed only at
// the last gate, after the upgrade is verified.
func TestChoerodon021Helm2SiteConvertedAndUpgraded(t *testing.T) {
	l := newC7nLab(t)
	ns := "c7n-h2"
	all := seedC7N021Helm2(t, l, ns)
	cfg := withHelm2(t, c7n021Config(t, l, "h2", ns))
	id := runbook.WorkflowID("choerodon-0.21-0.22", "h2")
	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", cfg)

	// The conversion waits for a person, showing the list; nothing changed yet.
	eventually(t, 2*time.Minute, "the conversion gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })
	st := status(t, id)
	require.Equal(t, "convert/helm2-releases", st.CurrentStep)
	prompt := st.Step("convert/helm2-releases").Prompt
	require.Contains(t, prompt, "base-service: chart base-service-0.21.0, revision 1 DEPLOYED")
	require.Contains(t, prompt, "knowledgebase-service: chart knowledgebase-service-0.20.0, revision 1 DEPLOYED")
	require.Contains(t, st.Step("backup-values/all").Result, "read from Tiller's records")
	require.Equal(t, 0, l.revisions(t, ns, "base-service"))
	require.Equal(t, len(all), l.tillerRecords(t))

	checkedAtVerify := -1
	st = operate(t, l.workerCfg, id, 4*time.Minute, map[string]func(){
		"verify/releases": func() { checkedAtVerify = l.tillerRecords(t) },
	})
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	require.Equal(t, len(all), checkedAtVerify, "Tiller's records stay until the cleanup gate")
	require.NotNil(t, st.Step("cleanup/tiller-records").Approval)
	require.Equal(t, 0, l.tillerRecords(t), "removed after the gate")

	// Converted, then the guide ran on Helm 3: the old framework deleted,
	// the business services upgraded from their Helm 2 revision.
	for _, r := range labsrv.C7N021OldReleases {
		require.Equal(t, 0, l.revisions(t, ns, r), "%s deleted", r)
	}
	require.Equal(t, "0.21.1", l.chartVersion(t, ns, "agile-service"))
	require.Equal(t, 2, l.revisions(t, ns, "agile-service"), "revision 1 converted, 2 the upgrade")
	require.Equal(t, "redis-of-0.21", l.values(t, ns, "agile-service")["env"].(map[string]any)["open"].(map[string]any)["SPRING_REDIS_HOST"],
		"the Helm 2 values were carried over and reused")
	require.Equal(t, "0.22.0", l.chartVersion(t, ns, "hzero-iam"))
	assertNoSecrets(t, id, l.artifacts, 20, c7nDBPassword, l.db.RootPassword, "lab-minio-ak", "lab-minio-sk-8812", c7nAPIToken, "lab-admin-token-77Q", c7nOAuthSecret)
}

// TestChoerodonHelm2ConversionNotApprovedStopsBeforeAnyDelete: without a
// person's approval of the conversion, the run ends with the Helm 2 site
// as it was: nothing converted, deleted or installed.
func TestChoerodonHelm2ConversionNotApprovedStopsBeforeAnyDelete(t *testing.T) {
	l := newC7nLab(t)
	ns := "c7n-h2no"
	all := seedC7N021Helm2(t, l, ns)
	cfg := withHelm2(t, c7n021Config(t, l, "h2no", ns))
	id := runbook.WorkflowID("choerodon-0.21-0.22", "h2no")
	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", cfg)
	eventually(t, 2*time.Minute, "the conversion gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })
	require.Equal(t, "convert/helm2-releases", status(t, id).CurrentStep)
	mustStarterAs(t, "reviewer", l.workerCfg, "approve", id, "convert/helm2-releases", "--reject", "--comment", "not before the maintenance window")
	eventually(t, time.Minute, "the run's end", func() bool { return status(t, id).State == runbook.RunRejected })
	st := status(t, id)
	require.Equal(t, runbook.StepNotRunAfterAbort, st.Step("delete-release/base-service").State)
	for _, r := range all {
		require.Equal(t, 0, l.revisions(t, ns, r), "%s not converted", r)
	}
	require.Equal(t, 0, l.revisions(t, ns, "data-migration"), "nothing installed")
	require.Equal(t, len(all), l.tillerRecords(t), "Tiller's records untouched")
	require.Equal(t, 1, l.deploys.Started(ns, "base-service"), "the old framework still runs")
}

// TestChoerodon08Helm2SiteConvertedAndUpgraded: a 0.8 site whose releases
// Tiller keeps is converted after the gate, upgraded to 0.9 on Helm 3
// with its Helm 2 values, and its Tiller records removed at the last gate.
func TestChoerodon08Helm2SiteConvertedAndUpgraded(t *testing.T) {
	l := newC7nLab(t)
	ns := "c7n08-h2"
	cfg, upgraded := c7n08Site(t, l, ns, "h208")
	cfg = withHelm2(t, cfg)
	var names []string
	for _, u := range upgraded {
		names = append(names, u.release)
	}
	require.NoError(t, l.site.ToHelm2(ns, "kube-system", names))
	id := runbook.WorkflowID("choerodon-0.8-0.9", "h208")
	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "choerodon-0.8-0.9", "-c", cfg)
	eventually(t, 2*time.Minute, "the conversion gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })
	st := status(t, id)
	require.Equal(t, "convert/helm2-releases", st.CurrentStep)
	require.Contains(t, st.Step("convert/helm2-releases").Prompt, "register-server: chart go-register-server-0.8.0, revision 1 DEPLOYED")
	// The framework's releases were found at 0.8 in Tiller's records (a
	// release missing from both stores, or at another version, fails it).
	require.Equal(t, runbook.StepDone, st.Step("preflight/releases").State)
	require.Contains(t, st.Step("preflight/releases").Result, "all pass")

	checkedAtVerify := -1
	st = operate(t, l.workerCfg, id, 4*time.Minute, map[string]func(){
		"verify/releases": func() { checkedAtVerify = l.tillerRecords(t) },
	})
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	require.Equal(t, len(names), checkedAtVerify, "Tiller's records stay until the cleanup gate")
	require.Equal(t, 0, l.tillerRecords(t), "removed after the gate")
	for _, u := range upgraded {
		require.Equal(t, u.to, l.chartVersion(t, ns, u.release), u.release)
		require.Equal(t, 2, l.revisions(t, ns, u.release), "%s: revision 1 converted, 2 the upgrade", u.release)
		require.Equal(t, "kept", l.values(t, ns, u.release)["env"].(map[string]any)["open"].(map[string]any)["SITE"])
	}
}

// TestChoerodon021Helm2SiteRolledBack: a Helm 2 site converted, its old
// framework deleted, then a step fails before the point of no return and a
// person aborts with --rollback. The deleted releases were backed up from
// Tiller's records before the conversion, so their chart came from there
// too; each is installed again (on Helm 3) at the version Tiller ran, with
// the values Tiller kept, and Tiller's records stay as they were (the
// cleanup gate is never reached).
func TestChoerodon021Helm2SiteRolledBack(t *testing.T) {
	l := newC7nLab(t)
	ns := "c7n-h2back"
	all := seedC7N021Helm2(t, l, ns)
	cfg := withHelm2(t, c7n021Config(t, l, "h2back", ns))
	id := runbook.WorkflowID("choerodon-0.21-0.22", "h2back")
	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", cfg)
	eventually(t, 2*time.Minute, "the conversion gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })
	st := status(t, id)
	for _, r := range labsrv.C7N021OldReleases {
		require.Equal(t, "0.21.0", st.Step("backup-values/all").Outputs["version."+r], "%s: the chart an undo needs, read from Tiller", r)
	}

	// The DB admin's password changes under the run: create-databases/hzero,
	// the first step after the deletes, fails.
	root, err := l.db.Root("")
	require.NoError(t, err)
	defer root.Close()
	_, err = root.Exec("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'rotated-by-the-dba-2'")
	require.NoError(t, err)
	st = operate(t, l.workerCfg, id, 4*time.Minute, nil)
	require.Equal(t, runbook.RunFailedAwaiting, st.State, "%+v", st)
	require.Equal(t, "create-databases/hzero", st.CurrentStep)
	for _, r := range labsrv.C7N021OldReleases {
		require.Equal(t, 0, l.revisions(t, ns, r), "%s converted, then deleted", r)
	}

	mustStarter(t, l.workerCfg, "decide", id, "create-databases/hzero", "abort", "--rollback", "--comment", "back to 0.21 on Helm 2's records")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err = temporalClient().GetWorkflow(ctx, id, "").Get(ctx, nil)
	require.ErrorContains(t, err, "rolled it back")
	final := status(t, id)
	require.Equal(t, runbook.RunRolledBack, final.State)
	for _, r := range labsrv.C7N021OldReleases {
		require.Equal(t, "0.21.0", l.chartVersion(t, ns, r), r)
		require.Equal(t, 1, l.revisions(t, ns, r), "%s installed once", r)
	}
	require.Equal(t, "old-pw", l.values(t, ns, "base-service")["env"].(map[string]any)["open"].(map[string]any)["SPRING_DATASOURCE_PASSWORD"],
		"the values Tiller kept")
	require.Equal(t, len(all), l.tillerRecords(t), "Tiller's records as before the run")
	require.Nil(t, final.Step("cleanup/tiller-records").Approval)
	assertNoSecrets(t, id, l.artifacts, 20, c7nDBPassword, l.db.RootPassword, "rotated-by-the-dba-2", "lab-minio-ak", "lab-minio-sk-8812",
		c7nAPIToken, "lab-admin-token-77Q", c7nOAuthSecret)
}
