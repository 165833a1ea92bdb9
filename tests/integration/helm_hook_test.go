package integration_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"upgrader/activities"
	"upgrader/internal/contract"
	labsrv "upgrader/tests/lab"
	"upgrader/workflows/runbook"
)

// The hook tests run at scale: a 15 s pre-upgrade hook Job (real Choerodon
// charts' preJob runs for minutes) and a 5 s heartbeat timeout (20 s
// declared), the same contract as production's, three times faster.
const (
	hookTime      = 15 * time.Second
	hookHeartbeat = 5 * time.Second
	hookQueue     = "helm-hook-lab"
)

var (
	helmWorkerOnce sync.Once
	helmWorkerErr  error
)

// helmWorkerBin builds tests/lab/helmworker: the worker plus a workflow
// that runs one helm step with the heartbeat timeout the test gives it.
func helmWorkerBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "helmworker")
	helmWorkerOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", bin, "upgrader/tests/lab/helmworker").CombinedOutput()
		if err != nil {
			helmWorkerErr = fmt.Errorf("building helmworker: %v\n%s", err, out)
		}
	})
	require.NoError(t, helmWorkerErr)
	return bin
}

// hookLab is a cluster with the real controllers, a release at 1.0.0 and
// a chart 1.0.1 whose pre-upgrade hook Job runs hookTime.
type hookLab struct {
	cp        *labsrv.ControlPlane
	site      *labsrv.C7NSite
	workerCfg string
	ns        string
}

func newHookLab(t *testing.T, ns string) *hookLab {
	t.Helper()
	root := t.TempDir()
	cp := labsrv.StartControlPlane(t)
	sim := labsrv.StartPodSim(t, cp)
	labsrv.StartControllerManager(t, sim.ControlPlane)
	l := &hookLab{cp: cp, ns: ns,
		site: &labsrv.C7NSite{Kubeconfig: cp.Kubeconfig, Charts: filepath.Join(root, "charts"), ChartSrc: "../testdata/charts/c7n-service"}}
	require.NoError(t, l.site.Package("hzero-iam", "1.0.0", labsrv.PodBehaviour{Port: 8031}))
	require.NoError(t, l.site.Package("hzero-iam", "1.0.1", labsrv.PodBehaviour{Port: 8031, Hook: hookTime}))
	require.NoError(t, l.site.Install(ns, "hzero-iam", "hzero-iam", "1.0.0", nil))
	l.workerCfg = writeFile(t, filepath.Join(root, "worker.yaml"), fmt.Sprintf(`
temporal:
  address: %s
  taskQueue: %s
artifactDir: %s
clusters:
  lab:
    kubeconfig: %s
chartDirs: [%s]
`, server.FrontendHostPort(), hookQueue, filepath.Join(root, "artifacts"), cp.Kubeconfig, l.site.Charts))
	return l
}

// startHelmWorker starts the helm lab worker as its own process.
func (l *hookLab) startWorker(t *testing.T) *workerProc {
	t.Helper()
	buf := &helmLogBuffer{}
	cmd := exec.Command(helmWorkerBin(t), "-c", l.workerCfg)
	cmd.Stdout, cmd.Stderr = buf, buf
	require.NoError(t, cmd.Start())
	w := &workerProc{cmd: cmd}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			_ = w.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("helm worker log:\n%s", tail(buf.String(), 4000))
		}
	})
	return w
}

// start runs the upgrade to 1.0.1 (through the hook, with --wait) as a run.
func (l *hookLab) start(t *testing.T, env string) client.WorkflowRun {
	t.Helper()
	in := map[string]any{
		"target": runbook.Target{Environment: env, From: "1.0.0", To: "1.0.1"},
		"upgrade": activities.HelmUpgradeInput{Cluster: "lab", Namespace: l.ns, Release: "hzero-iam", MustExist: true, Wait: true,
			Timeout: contract.Duration(3 * time.Minute), Chart: activities.ChartRef{Repo: "c7n", Name: "hzero-iam", Version: "1.0.1"}},
		"heartbeat": hookHeartbeat,
	}
	run, err := temporalClient().ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: runbook.WorkflowID("helm-step-lab", env), TaskQueue: hookQueue, WorkflowExecutionTimeout: 10 * time.Minute,
	}, "HelmStepLab", in)
	require.NoError(t, err)
	return run
}

func (l *hookLab) history(t *testing.T) []*release.Release {
	t.Helper()
	cfg, err := l.site.Helm(l.ns)
	require.NoError(t, err)
	h, err := action.NewHistory(cfg).Run("hzero-iam")
	require.NoError(t, err)
	byVersion := make([]*release.Release, len(h))
	for _, r := range h {
		byVersion[r.Version-1] = r
	}
	return byVersion
}

// activityEvents returns the run's activity events of UpgradeInstall.
// activityEvents returns the history events of one step's activity (its
// activity IDs are "<step>#<try>"): the run's other activities (the run
// report at its end) are not the step's.
func activityEvents(t *testing.T, id, step string) (scheduled, started []*history.HistoryEvent, timedOut, completed int) {
	t.Helper()
	mine := map[int64]bool{} // scheduled event IDs of the step's activity
	it := temporalClient().GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if strings.HasPrefix(ev.GetActivityTaskScheduledEventAttributes().GetActivityId(), step+"#") {
				mine[ev.GetEventId()] = true
				scheduled = append(scheduled, ev)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if mine[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()] {
				started = append(started, ev)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			if mine[ev.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId()] {
				timedOut++
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if mine[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()] {
				completed++
			}
		}
	}
	return
}

// An upgrade whose pre-upgrade hook runs three heartbeat timeouts long
// completes in one activity attempt: the step heartbeats while helm waits.
func TestHelmUpgradeThroughALongHookIsOneAttempt(t *testing.T) {
	l := newHookLab(t, "hook-one")
	l.startWorker(t)
	begin := time.Now()
	run := l.start(t, "hook-one")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var st runbook.RunStatus
	require.NoError(t, run.Get(ctx, &st))
	took := time.Since(begin)
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	t.Logf("upgrade through a %s hook, heartbeat timeout %s: run took %s", hookTime, hookHeartbeat, took.Round(10*time.Millisecond))

	scheduled, started, timedOut, completed := activityEvents(t, run.GetID(), "upgrade/hzero-iam")
	require.Len(t, scheduled, 1, "one activity scheduled")
	require.Len(t, started, 1)
	require.EqualValues(t, 1, started[0].GetActivityTaskStartedEventAttributes().GetAttempt(), "one attempt")
	require.Zero(t, timedOut)
	require.Equal(t, 1, completed)
	require.Equal(t, 1, st.Step("upgrade/hzero-iam").Attempts, "one operator try")

	revs := l.history(t)
	require.Len(t, revs, 2)
	require.Equal(t, release.StatusDeployed, revs[1].Info.Status)
	require.Equal(t, "1.0.1", revs[1].Chart.Metadata.Version)
}

// A worker SIGKILLed while helm waits for the hook leaves the release
// pending-upgrade with nobody to finish it; the step's next attempt, on a
// new worker, finds the revision its own dead try started, unlocks it and
// upgrades once more. Nobody is asked.
func TestHelmWorkerKilledDuringTheHookRecoversAlone(t *testing.T) {
	l := newHookLab(t, "hook-kill")
	w := l.startWorker(t)
	begin := time.Now()
	run := l.start(t, "hook-kill")

	// ~5 s into the hook: the hook Job has existed that long.
	cfg, err := clientcmd.BuildConfigFromFlags("", l.cp.Kubeconfig)
	require.NoError(t, err)
	kc := kubernetes.NewForConfigOrDie(cfg)
	var hookStart time.Time
	eventually(t, 2*time.Minute, "the hook Job", func() bool {
		j, err := kc.BatchV1().Jobs(l.ns).Get(context.Background(), "hzero-iam-init-db", metav1.GetOptions{})
		if err != nil {
			return false
		}
		hookStart = j.CreationTimestamp.Time
		return true
	})
	time.Sleep(time.Until(hookStart.Add(5 * time.Second)))
	w.kill(t)
	killedAt := time.Now()
	revs := l.history(t)
	require.Len(t, revs, 2)
	require.Equal(t, release.StatusPendingUpgrade, revs[1].Info.Status, "the dead worker's upgrade is left pending")
	l.startWorker(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var st runbook.RunStatus
	require.NoError(t, run.Get(ctx, &st))
	t.Logf("worker killed %s into the %s hook; run completed %s after the kill (%s in all)",
		killedAt.Sub(hookStart).Round(100*time.Millisecond), hookTime, time.Since(killedAt).Round(100*time.Millisecond),
		time.Since(begin).Round(100*time.Millisecond))
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	step := st.Step("upgrade/hzero-iam")
	require.Equal(t, 1, step.Attempts, "no operator try: nobody was asked")
	require.Contains(t, step.Result, "was marked failed first", "the step says it unlocked its own dead try's revision")
	t.Logf("step result: %s; tries: %+v", step.Result, step.Tries)

	_, started, timedOut, completed := activityEvents(t, run.GetID(), "upgrade/hzero-iam")
	require.Len(t, started, 1, "a retried activity's started event is written once, for its last attempt")
	require.EqualValues(t, 2, started[0].GetActivityTaskStartedEventAttributes().GetAttempt(), "the second attempt finished it")
	require.Zero(t, timedOut)
	require.Equal(t, 1, completed)

	// The hook and the upgrade ran once more, no more: the dead try's
	// revision failed (unlocked), the next one deployed.
	revs = l.history(t)
	require.Len(t, revs, 3, "one revision for the dead try, one for the retry")
	require.Equal(t, release.StatusFailed, revs[1].Info.Status)
	require.Contains(t, revs[1].Info.Description, "unlocked from stale 'pending-upgrade' state")
	require.Equal(t, release.StatusDeployed, revs[2].Info.Status)
	require.Equal(t, "1.0.1", revs[2].Chart.Metadata.Version)
}

// helmLogBuffer collects a worker's output from its pipe goroutines.
type helmLogBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *helmLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *helmLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
