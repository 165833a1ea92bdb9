package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"

	"upgrader/workflows/runbook"
)

// A step whose site's worker is down is not failed: its activity sits on
// the site's task queue, scheduled and not started, until a worker polls
// that queue (the runbook sets no schedule-to-start timeout, so it waits as
// long as it must). Status says so, with the queue and the site, from
// DescribeWorkflowExecution's pending activities and DescribeTaskQueue's
// pollers.

// pollerFresh is how recently a worker must have polled to count as
// polling: a live worker's long poll renews it at least every minute or so,
// and the server keeps a stopped worker's entry for minutes.
const pollerFresh = 90 * time.Second

// workerWaits returns, by step name, why each running step whose activity
// is scheduled but not started is waiting: "waiting for a worker on queue
// Q (site S): …". runQueue is the run's own task queue (steps without a
// site).
func workerWaits(ctx context.Context, c client.Client, st runbook.RunStatus,
	live map[string]*workflowpb.PendingActivityInfo, runQueue string, now time.Time) map[string]string {
	out := map[string]string{}
	pollers := map[string][]string{} // queue → fresh pollers, asked once
	asked := map[string]string{}     // queue → the note when none is fresh
	for _, s := range st.Steps {
		if s.State != runbook.StepRunning {
			continue
		}
		p := live[s.Name+"#"+fmt.Sprint(s.Attempts)]
		if p == nil || p.GetState() != enumspb.PENDING_ACTIVITY_STATE_SCHEDULED {
			continue
		}
		if next := p.GetNextAttemptScheduleTime(); next != nil && next.AsTime().After(now) {
			continue // backing off between attempts, not waiting for a worker
		}
		queue := s.TaskQueue
		if queue == "" {
			queue = runQueue
		}
		if queue == "" {
			continue
		}
		if _, done := asked[queue]; !done {
			fresh, note := queuePollers(ctx, c, queue, now)
			pollers[queue], asked[queue] = fresh, note
		}
		where := "waiting for a worker on queue " + queue
		if s.Site != "" {
			where += " (site " + s.Site + ")"
		}
		since := ""
		if t := p.GetScheduledTime(); t != nil {
			since = " since " + t.AsTime().Local().Format("15:04:05")
		}
		start := "start the worker of that site: worker -c worker.yaml --task-queue " + queue
		if s.Site != "" {
			start += " --site " + s.Site + " --activities-only"
		}
		switch fresh := pollers[queue]; {
		case len(fresh) == 0:
			out[s.Name] = where + since + ": " + asked[queue] + "; " + start
		case p.GetScheduledTime() != nil && now.Sub(p.GetScheduledTime().AsTime()) > 5*time.Second:
			// A live worker takes a scheduled activity within a second:
			// these stopped a moment ago, or do not register this guide's
			// activities (a worker without demo: true, say).
			out[s.Name] = fmt.Sprintf("%s%s: %d worker(s) polled it lately (%s) but none took the step: "+
				"stopped a moment ago, or not registering this guide's activities",
				where, since, len(fresh), strings.Join(fresh, ", "))
		}
	}
	return out
}

// queuePollers lists the workers that polled queue for activities within
// pollerFresh, and says what it saw when none did.
func queuePollers(ctx context.Context, c client.Client, queue string, now time.Time) ([]string, string) {
	resp, err := c.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		return nil, "unable to ask Temporal who polls it: " + err.Error()
	}
	var fresh []string
	var last string
	var lastAt time.Time
	for _, p := range resp.GetPollers() {
		at := p.GetLastAccessTime().AsTime()
		if now.Sub(at) <= pollerFresh {
			fresh = append(fresh, p.GetIdentity())
		} else if at.After(lastAt) {
			last, lastAt = p.GetIdentity(), at
		}
	}
	if last != "" {
		return fresh, fmt.Sprintf("no worker polls it (the last, %s, polled at %s)", last, lastAt.Local().Format("15:04:05"))
	}
	return fresh, "no worker polls it"
}
