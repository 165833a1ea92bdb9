package integration_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/config"
	"upgrader/workflows/runbook"
)

// BenchmarkFleet200Runs is issue 14's scale case: 200 runs of a 59-step
// plan (the Choerodon 0.21 guide's length; no-op activities) at once, on one
// in-process worker with the project's worker options, against the dev
// server. It reports throughput, the p95 of each activity's
// schedule-to-start latency (time from Temporal scheduling a step to the
// worker running it), and the worker process's peak RSS.
//
//	go test ./tests/integration -run '^$' -bench Fleet200 -benchtime 1x
func BenchmarkFleet200Runs(b *testing.B) {
	const runs, steps = 200, 59
	var mu sync.Mutex
	var waits []time.Duration
	queue := fmt.Sprintf("fleet-%d", time.Now().UnixNano())
	inProcessWorker(b, queue, config.NewSecretStore(nil), func(w worker.Worker) {
		w.RegisterActivityWithOptions(func(ctx context.Context) (runbook.Outcome, error) {
			d := time.Since(activity.GetInfo(ctx).ScheduledTime)
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return runbook.Outcome{Summary: "ok"}, nil
		}, activity.RegisterOptions{Name: "FleetNoop"})
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (runbook.RunStatus, error) {
			plan := make([]runbook.Step, steps)
			for i := range plan {
				plan[i] = runbook.Step{Name: fmt.Sprintf("step/%d", i), Kind: runbook.KindCheck, Summary: "noop", Activity: "FleetNoop"}
			}
			return runbook.Run(ctx, runbook.Guide{Name: "fleet", Title: "fleet"}, runbook.Target{Environment: "lab", From: "1", To: "2"}, plan)
		}, workflow.RegisterOptions{Name: "FleetUpgrade"})
	})
	stopRSS := make(chan struct{})
	var peakRSS int64
	go func() {
		for {
			select {
			case <-stopRSS:
				return
			case <-time.After(200 * time.Millisecond):
				if r := rssKiB(); r > peakRSS {
					peakRSS = r
				}
			}
		}
	}()
	ctx := context.Background()
	var cpuStart, cpuEnd time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		cpuStart = cpuTime()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, runs)
		for i := 0; i < runs; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				run, err := temporalClient().ExecuteWorkflow(ctx, client.StartWorkflowOptions{
					ID: fmt.Sprintf("%s/%d/%d", queue, n, i), TaskQueue: queue}, "FleetUpgrade")
				if err == nil {
					err = run.Get(ctx, nil)
				}
				if err != nil {
					errs <- err
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		wall := time.Since(start)
		cpuEnd = cpuTime()
		b.ReportMetric(float64(runs*steps)/wall.Seconds(), "steps/s")
		b.ReportMetric(wall.Seconds(), "s/fleet")
		b.ReportMetric((cpuEnd-cpuStart).Seconds()/wall.Seconds(), "worker-cores")
	}
	close(stopRSS)
	mu.Lock()
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	if len(waits) > 0 {
		b.ReportMetric(float64(waits[len(waits)*95/100].Milliseconds()), "p95-sched-to-start-ms")
		b.ReportMetric(float64(waits[len(waits)/2].Milliseconds()), "p50-sched-to-start-ms")
	}
	mu.Unlock()
	b.ReportMetric(float64(peakRSS)/1024, "peak-RSS-MiB")
}

// rssKiB is this process's resident set, in KiB.
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the CPU time this process has used (user + system).
func cpuTime() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}
