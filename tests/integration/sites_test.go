package integration_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"upgrader/workflows/runbook"
)

// TestStepsRunOnTheirSitesWorker drives one demo run from one Temporal
// across two sites: worker A polls the run's own queue (the workflow and the
// steps of no site), worker B polls site b's queue for activities only. The
// steps the config puts in site b wait, shown as waiting for site b's worker
// (not failed), while that worker is down (not started yet, then killed at
// the gate); once it starts they run there and the run completes. History's ActivityTaskStarted identities show which
// worker ran what: nothing of site b ran on A, nothing else on B.
func TestStepsRunOnTheirSitesWorker(t *testing.T) {
	l := newLab(t, "sites", 1)
	id := runbook.WorkflowID("demo", "sites")
	const queueA, queueB = "sites-a", "sites-b"
	cfg, err := os.ReadFile(l.workerCfg)
	require.NoError(t, err)
	// Worker A's config: the run's queue, site a in its identity. The
	// starter reads the same config, so the run starts on queueA.
	withQueue := strings.Replace(string(cfg), "temporal:\n", "temporal:\n  taskQueue: "+queueA+"\n", 1) + "site: a\n"
	require.NoError(t, os.WriteFile(l.workerCfg, []byte(withQueue), 0o600))
	onB := []string{"backup-values/hzero-iam", "backup-values/hzero-gateway", "upgrade/hzero-gateway", "wait-up/hzero-gateway"}
	appendFile(t, l.upgradeCfg, fmt.Sprintf(`sites:
  b:
    taskQueue: %s
    steps: ["backup-values/hzero-*", "*/hzero-gateway"]
`, queueB))

	plan := mustStarter(t, l.workerCfg, "plan", "demo", "-c", l.upgradeCfg)
	require.Regexp(t, `upgrade/hzero-gateway\s+helm\s+parallel:upgrade site:b`, plan)
	require.Contains(t, plan, "b: task queue "+queueB)

	startWorker(t, l.workerCfg, "DEMO_DB_PASSWORD="+secretValue)
	mustStarter(t, l.workerCfg, "start", "demo", "-c", l.upgradeCfg)

	// Site b's worker is down: its first step waits on its queue, the run
	// goes on waiting, nothing fails.
	var out string
	eventually(t, 30*time.Second, "status to show the step waiting for site b's worker", func() bool {
		out, _ = starter(t, l.workerCfg, "status", id)
		return strings.Contains(out, "waiting for a worker on queue "+queueB+" (site b)")
	})
	t.Logf("starter status while site b's worker is down:\n%s", out)
	line := lineWith(out, "backup-values/hzero-iam")
	require.Contains(t, line, "running", out)
	require.Contains(t, line, "no worker polls it", out)
	require.Contains(t, line, "--task-queue "+queueB+" --site b", out)
	st := status(t, id)
	require.Equal(t, runbook.RunRunning, st.State)
	require.Equal(t, "b", st.Step("backup-values/hzero-iam").Site)
	require.Equal(t, queueB, st.Step("backup-values/hzero-iam").TaskQueue)
	require.Equal(t, runbook.StepDone, st.Step("backup-values/base-service").State, "steps of no site ran on A")

	// Site b's worker starts (same config file, its own queue and site,
	// activities only): the waiting step runs there, then the rest.
	workerB := startSiteWorker(t, l.workerCfg, queueB, "b", "DEMO_DB_PASSWORD="+secretValue)
	eventually(t, 60*time.Second, "the gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })

	// Site b's worker stops (killed) while the run waits at the gate; the
	// site's next step waits for it again, the other site's goes on.
	workerB.kill(t)
	mustStarterAs(t, "alice", l.workerCfg, "approve", id, "approve/delete-old-releases", "--comment", "two sites")
	eventually(t, 60*time.Second, "upgrade/hzero-gateway waiting for site b's worker after it stopped", func() bool {
		out, _ = starter(t, l.workerCfg, "status", id)
		return strings.Contains(lineWith(out, "upgrade/hzero-gateway"), "waiting for a worker on queue "+queueB+" (site b)")
	})
	t.Logf("starter status after site b's worker stopped:\n%s", out)
	require.Contains(t, lineWith(out, "upgrade/hzero-gateway"), "running", out)
	st = status(t, id)
	require.Equal(t, runbook.RunRunning, st.State)
	eventually(t, 30*time.Second, "site a's upgrade done", func() bool {
		st := status(t, id)
		return st.Step("upgrade/hzero-iam") != nil && st.Step("upgrade/hzero-iam").State == runbook.StepDone
	})
	startSiteWorker(t, l.workerCfg, queueB, "b", "DEMO_DB_PASSWORD="+secretValue)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var final runbook.RunStatus
	require.NoError(t, temporalClient().GetWorkflow(ctx, id, "").Get(ctx, &final))
	require.Equal(t, runbook.RunCompleted, final.State)

	// Who ran what, from history: the queue each activity was sent to and
	// the identity of the worker that started it.
	type sched struct{ activity, queue string }
	scheduled := map[int64]sched{}
	ranOn := map[string]string{} // activity ID → worker identity
	it := temporalClient().GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := ev.GetActivityTaskScheduledEventAttributes()
			scheduled[ev.GetEventId()] = sched{a.GetActivityId(), a.GetTaskQueue().GetName()}
			if a.GetTaskQueue().GetName() == queueB {
				// A step waiting for its site's worker must not time out
				// while it waits: no schedule-to-start limit.
				require.Zero(t, a.GetScheduleToStartTimeout().AsDuration(), a.GetActivityId())
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			s := scheduled[a.GetScheduledEventId()]
			ranOn[s.activity] = a.GetIdentity()
			wantQueue := queueA
			for _, b := range onB {
				if s.activity == b+"#1" {
					wantQueue = queueB
				}
			}
			require.Equal(t, wantQueue, s.queue, s.activity)
		}
	}
	for _, b := range onB {
		require.Contains(t, ranOn, b+"#1")
	}
	for act, who := range ranOn {
		site := "a"
		for _, b := range onB {
			if act == b+"#1" {
				site = "b"
			}
		}
		require.True(t, strings.HasSuffix(who, "@site:"+site), "%s ran on %s, not on site %s's worker", act, who, site)
	}
	require.Greater(t, len(ranOn), len(onB), "site a's worker ran the other steps")
	require.Equal(t, "b", final.Step("upgrade/hzero-gateway").Site)
	require.Empty(t, final.Step("upgrade/hzero-iam").Site)
}

// startSiteWorker starts a site's worker: the same config, its own queue
// and site, activities only.
func startSiteWorker(t *testing.T, cfgPath, queue, site string, env ...string) *workerProc {
	t.Helper()
	return startWorkerArgs(t, []string{"-c", cfgPath, "--task-queue", queue, "--site", site, "--activities-only"}, env...)
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
