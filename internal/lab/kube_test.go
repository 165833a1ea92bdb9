package lab_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"upgrader/internal/lab"
)

// The lab's cluster runs the real controllers: helm waits for the chart's
// hook Job, which completes when the pod simulator ends its pod; an upgrade
// rolls the Deployment to a new pod; an uninstall leaves no pod behind.
func TestLabRunsHookJobsAndRollouts(t *testing.T) {
	l := lab.New(t.TempDir())
	l.Logf, l.Failed = t.Logf, t.Failed
	t.Cleanup(l.Stop)
	cp, err := lab.StartControlPlane(l)
	require.NoError(t, err)
	sim, err := lab.StartPodSim(l, cp)
	require.NoError(t, err)
	_, err = lab.StartControllerManager(l, cp)
	require.NoError(t, err)

	site := &lab.C7NSite{Kubeconfig: cp.Kubeconfig, Charts: t.TempDir(), ChartSrc: "../../tests/testdata/charts/c7n-service"}
	for _, v := range []string{"1.0.0", "1.0.1"} {
		require.NoError(t, site.Package("hzero-iam", v, lab.PodBehaviour{Port: 8031, Hook: 2 * time.Second}))
	}
	ns := "c7n-system"
	start := time.Now()
	require.NoError(t, site.Install(ns, "hzero-iam", "hzero-iam", "1.0.0", nil))
	t.Logf("install through a 2s hook took %v", time.Since(start))
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "helm waited for the hook Job")

	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	require.NoError(t, err)
	cs := kubernetes.NewForConfigOrDie(cfg)
	job, err := cs.BatchV1().Jobs(ns).Get(context.Background(), "hzero-iam-init-db", metav1.GetOptions{})
	require.NoError(t, err)
	require.EqualValues(t, 1, job.Status.Succeeded)

	require.Eventually(t, func() bool { return sim.Started(ns, "hzero-iam") == 1 }, 30*time.Second, 100*time.Millisecond)

	hcfg, err := site.Helm(ns)
	require.NoError(t, err)
	ch, err := loader.Load(filepath.Join(site.Charts, "hzero-iam-1.0.1.tgz"))
	require.NoError(t, err)
	u := action.NewUpgrade(hcfg)
	u.Namespace, u.Wait, u.Timeout = ns, true, time.Minute
	start = time.Now()
	rel, err := u.Run("hzero-iam", ch, nil)
	require.NoError(t, err)
	t.Logf("upgrade through a 2s hook with --wait took %v", time.Since(start))
	require.Equal(t, 2, rel.Version)
	require.Equal(t, 2, sim.Started(ns, "hzero-iam"), "the upgrade rolled out a new pod")
	require.Eventually(t, func() bool {
		pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "choerodon.io/release=hzero-iam,choerodon.io/version=1.0.0"})
		return err == nil && len(pods.Items) == 0
	}, 30*time.Second, 100*time.Millisecond, "the old pod goes once the new one is ready")

	_, err = action.NewUninstall(hcfg).Run("hzero-iam")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "choerodon.io/release=hzero-iam"})
		return err == nil && len(pods.Items) == 0
	}, 30*time.Second, 100*time.Millisecond, "the garbage collector removed the Deployment's pods")
}
