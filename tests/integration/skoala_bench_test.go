package integration_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"upgrader/config"
	"upgrader/internal/app"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// BenchmarkSkoalaFanOut measures the dce5-skoala guide across 1, 3 and N
// worker clusters (SKOALA_BENCH_N, default 8), each a real lab control
// plane: the wall time from the go-ahead (approve/clusters) to the end, and
// the worker clusters' phase alone (the canary's lane for one cluster; the
// canary then the other N-1 side by side, parallelism N, for more). Gates
// are answered the moment they open. It also reports the lab's memory per
// cluster (etcd + kube-apiserver + kube-controller-manager, RSS).
func BenchmarkSkoalaFanOut(b *testing.B) {
	n := 8
	if v, err := strconv.Atoi(os.Getenv("SKOALA_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for _, workers := range []int{1, 3, n} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			l := newSkoalaLab(b, workers, "0.19.0")
			perCluster := float64(labRSSKiB()) / 1024 / float64(workers+1)
			wcfg, err := config.LoadWorker(l.workerCfg)
			require.NoError(b, err)
			queue := fmt.Sprintf("skoala-bench-%d-%d", workers, time.Now().UnixNano())
			inProcessWorker(b, queue, config.NewSecretStore(nil), func(w worker.Worker) {
				app.Register(w, wcfg, config.NewSecretStore(nil))
			})
			ctx := context.Background()
			var total, fan time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				in := workflows.NewSkoalaInput()
				require.NoError(b, config.LoadUpgrade(l.config(b, fmt.Sprintf("bench%d-%d", workers, i), "0.19.0", workers), "dce5-skoala", &in))
				in.To = []string{"0.19.2", "0.19.0"}[i%2] // each round upgrades: there and back
				in.From = []string{"0.19.0", "0.19.2"}[i%2]
				id := runbook.WorkflowID("dce5-skoala", in.Environment)
				b.StartTimer()
				run, err := temporalClient().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, "DCE5SkoalaUpgrade", in)
				require.NoError(b, err)
				var goAhead time.Time
				for done := false; !done; {
					st := benchStatus(b, id)
					switch st.State {
					case runbook.RunCompleted:
						done = true
						continue
					case runbook.RunFailedAwaiting, runbook.RunAborted:
						b.Fatalf("%s: %s at %s", id, st.State, st.CurrentStep)
					}
					for _, s := range st.Steps {
						if s.State == runbook.StepWaitingApproval {
							_, err := temporalClient().UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: runbook.UpdateApprove,
								Args: []any{runbook.Approval{Step: s.Name, By: "bench"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
							require.NoError(b, err)
							if s.Name == "approve/clusters" {
								goAhead = time.Now()
							}
						}
					}
					time.Sleep(50 * time.Millisecond)
				}
				require.NoError(b, run.Get(ctx, nil))
				total += time.Since(goAhead)
				st := benchStatus(b, id)
				fan += phase(st, in.Workers)
			}
			b.StopTimer()
			b.ReportMetric(total.Seconds()/float64(b.N), "s/run-after-go-ahead")
			b.ReportMetric(fan.Seconds()/float64(b.N), "s/worker-phase")
			// After the timer's last reset, which clears reported metrics.
			b.ReportMetric(perCluster, "MiB/cluster")
		})
	}
}

// phase is the worker clusters' part of a run: from the first step on a
// worker cluster to the last one's end (preflight and the canary gate's
// wait excluded).
func phase(st runbook.RunStatus, workers []string) time.Duration {
	var first, last time.Time
	var gate time.Duration
	for _, s := range st.Steps {
		if s.Name == "approve/canary" {
			gate = s.EndedAt.Sub(s.StartedAt)
		}
		on := false
		for _, w := range workers {
			on = on || strings.HasSuffix(s.Name, "@"+w)
		}
		if !on || s.StartedAt.IsZero() || strings.HasPrefix(s.Name, "preflight/") {
			continue
		}
		if first.IsZero() || s.StartedAt.Before(first) {
			first = s.StartedAt
		}
		if s.EndedAt.After(last) {
			last = s.EndedAt
		}
	}
	return last.Sub(first) - gate
}

func benchStatus(b *testing.B, id string) runbook.RunStatus {
	var st runbook.RunStatus
	v, err := temporalClient().QueryWorkflow(context.Background(), id, "", runbook.QueryStatus)
	if err != nil {
		return st
	}
	require.NoError(b, v.Get(&st))
	return st
}

// labRSSKiB sums the resident memory of the lab's cluster processes that
// this process started (etcd, kube-apiserver, kube-controller-manager).
func labRSSKiB() int64 {
	me := strconv.Itoa(os.Getpid())
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var sum int64
	for _, p := range procs {
		stat, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 {
			continue
		}
		comm, rest := s[open+1:close], strings.Fields(s[close+1:])
		if len(rest) < 2 || rest[1] != me {
			continue
		}
		if comm != "etcd" && !strings.HasPrefix(comm, "kube-apiserver") && !strings.HasPrefix(comm, "kube-controller") {
			continue
		}
		status, err := os.ReadFile(filepath.Join(filepath.Dir(p), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				k, _ := strconv.ParseInt(f[1], 10, 64)
				sum += k
			}
		}
	}
	return sum
}
