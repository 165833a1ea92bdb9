package integration_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"upgrader/workflows/runbook"
)

// BenchmarkChoerodon021WholeGuide is issue 14's whole-guide case: the
// Choerodon 0.21 → 0.22 guide, every step, against an instant lab (pods up
// at once, log lines at once, hook Jobs done at once), with a worker process
// and each gate approved by the benchmark as soon as it waits. It reports the
// wall time, the time spent inside activities and waiting at gates (both
// read from the run's own history and status), the orchestration overhead
// per step = (wall − activities − gates) / steps, and the run's history size.
//
//	go test ./tests/integration -run '^$' -bench WholeGuide -benchtime 1x
func BenchmarkChoerodon021WholeGuide(b *testing.B) {
	var sum runCost
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		l := newC7nLab(b)
		l.site.Instant = true
		ns := fmt.Sprintf("c7n-bench-%d", n)
		require.NoError(b, l.site.PackageC7N021([]string{"迁移 emailConfig", "修复完成，正常退出"}, 0))
		require.NoError(b, l.site.SeedC7N021(ns, l.sql(b), true))
		env := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano()%1_000_000, n)
		cfg := c7n021Config(b, l, env, ns)
		id := runbook.WorkflowID("choerodon-0.21-0.22", env)
		startWorker(b, l.workerCfg)
		b.StartTimer()

		mustStarter(b, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", cfg)
		st := approveAsTheyWait(b, id, 5*time.Minute)
		b.StopTimer()
		require.Equal(b, runbook.RunCompleted, st.State, "%+v", st)
		c := measureRun(b, id, st)
		sum.add(c)
		logSlowestSteps(b, st, 5)
		b.StartTimer()
	}
	sum.report(b)
}

// approveAsTheyWait approves every gate the moment the run shows it waiting
// (a query every 20 ms), until the run ends.
func approveAsTheyWait(t testing.TB, id string, timeout time.Duration) runbook.RunStatus {
	t.Helper()
	ctx := context.Background()
	approved := map[string]bool{}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st := status(t, id)
		switch st.State {
		case runbook.RunCompleted, runbook.RunAborted, runbook.RunRejected, runbook.RunFailedAwaiting:
			return st
		}
		for _, s := range st.Steps {
			if s.State != runbook.StepWaitingApproval || approved[s.Name] {
				continue
			}
			h, err := temporalClient().UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
				WorkflowID: id, UpdateName: runbook.UpdateApprove, WaitForStage: client.WorkflowUpdateStageCompleted,
				Args: []any{runbook.Approval{Step: s.Name, By: "bench", Comment: "approved by the benchmark"}}})
			require.NoError(t, err)
			require.NoError(t, h.Get(ctx, nil))
			approved[s.Name] = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not finish in %s", id, timeout)
	return runbook.RunStatus{}
}

// runCost is where one run's time went, and its history's size.
type runCost struct {
	runs                       int
	wall, activities, gates    time.Duration
	steps, events, historySize int
}

func (c *runCost) add(o runCost) {
	c.runs++
	c.wall += o.wall
	c.activities += o.activities
	c.gates += o.gates
	c.steps += o.steps
	c.events += o.events
	c.historySize += o.historySize
}

func (c runCost) report(b *testing.B) {
	if c.runs == 0 {
		return
	}
	n := float64(c.runs)
	b.ReportMetric(c.wall.Seconds()/n, "wall-s/run")
	b.ReportMetric(c.activities.Seconds()/n, "activities-s/run")
	b.ReportMetric(c.gates.Seconds()/n, "gates-s/run")
	b.ReportMetric(float64(c.steps)/n, "steps/run")
	overhead := c.wall - c.activities - c.gates
	b.ReportMetric(float64(overhead.Milliseconds())/float64(c.steps), "overhead-ms/step")
	b.ReportMetric(float64(c.events)/n, "events/run")
	b.ReportMetric(float64(c.historySize)/n/1024, "history-KiB/run")
}

// measureRun reads a finished run's history: wall time from the first event
// to the last; time inside activities as the union of every try's
// started → closed interval (steps side by side count once); events and
// their encoded size. Gate waits come from the status (waiting since →
// approved at).
func measureRun(t testing.TB, id string, st runbook.RunStatus) runCost {
	t.Helper()
	ctx := context.Background()
	it := temporalClient().GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var c runCost
	var first, last time.Time
	started := map[int64]time.Time{} // by scheduled event ID
	var spans []span
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		c.events++
		c.historySize += proto.Size(e)
		at := e.GetEventTime().AsTime()
		if first.IsZero() {
			first = at
		}
		last = at
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			started[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()] = at
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			spans = append(spans, span{started[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()], at})
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			spans = append(spans, span{started[e.GetActivityTaskFailedEventAttributes().GetScheduledEventId()], at})
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			spans = append(spans, span{started[e.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId()], at})
		}
	}
	c.wall = last.Sub(first)
	c.activities = union(spans)
	for _, s := range st.Steps {
		if s.Approval != nil && !s.StartedAt.IsZero() {
			c.gates += s.Approval.At.Sub(s.StartedAt)
		}
	}
	c.steps = len(st.Steps)
	return c
}

type span struct{ from, to time.Time }

// union is the total time covered by the spans, overlaps counted once.
func union(spans []span) time.Duration {
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var total time.Duration
	var cur span
	for i, s := range spans {
		if s.from.IsZero() {
			continue
		}
		if i == 0 || cur.to.IsZero() || s.from.After(cur.to) {
			total += cur.to.Sub(cur.from)
			cur = s
			continue
		}
		if s.to.After(cur.to) {
			cur.to = s.to
		}
	}
	return total + cur.to.Sub(cur.from)
}

// logSlowestSteps says where an instant lab's time still goes.
func logSlowestSteps(b *testing.B, st runbook.RunStatus, n int) {
	steps := append([]runbook.StepStatus{}, st.Steps...)
	sort.Slice(steps, func(i, j int) bool {
		return steps[i].EndedAt.Sub(steps[i].StartedAt) > steps[j].EndedAt.Sub(steps[j].StartedAt)
	})
	for _, s := range steps[:min(n, len(steps))] {
		b.Logf("slowest: %-40s %s", s.Name, s.EndedAt.Sub(s.StartedAt).Round(time.Millisecond))
	}
}
