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
// worker clusters (SKOALA_BENCH_N, default 8; or the list in
// SKOALA_BENCH_SIZES, e.g. 1,3,5,6,7,8,10), each a real lab control
// plane: the wall time from the go-ahead (approve/clusters) to the end, and
// the worker clusters' phase alone (the canary's lane for one cluster; the
// canary then the other N-1 side by side, parallelism N, for more). Gates
// are answered the moment they open. It also reports the lab's memory per
// cluster (etcd + kube-apiserver + kube-controller-manager, RSS).
//
// The fan-out ratio is side-by-side / canary-lane: the N-1 clusters after
// the canary gate, all at once, against the canary's lane alone in the same
// run (one cluster: backup, upgrade with helm's wait, CRDs). The whole
// run's N / 1 cannot come near 1.3 by design: the control plane and the
// canary go one after the other before the side-by-side part, each about
// one lane long, so a run with N clusters is at least one lane longer than
// a run with one (≥ 1.5 with lanes of ~2.2 s).
func BenchmarkSkoalaFanOut(b *testing.B) {
	n := 8
	if v, err := strconv.Atoi(os.Getenv("SKOALA_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	sizes := []int{1, 3, n}
	// SKOALA_BENCH_SIZES=1,3,5,6,7,8,10 measures those instead, in one go.
	if v := os.Getenv("SKOALA_BENCH_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			w, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || w < 1 {
				b.Fatalf("SKOALA_BENCH_SIZES=%q: %q is not a number of worker clusters", v, f)
			}
			sizes = append(sizes, w)
		}
	}
	for _, workers := range sizes {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			l := newSkoalaLab(b, workers, "0.19.0")
			perCluster := float64(labRSSKiB()) / 1024 / float64(workers+1)
			// What the lab's clusters burn doing nothing (leases, watches,
			// controllers' resyncs), over 5 s before the run, once the
			// charts' first rollouts have settled.
			time.Sleep(2 * time.Second)
			idle0 := labCPUSeconds()
			time.Sleep(5 * time.Second)
			idle := (labCPUSeconds() - idle0) / 5
			wcfg, err := config.LoadWorker(l.workerCfg)
			require.NoError(b, err)
			queue := fmt.Sprintf("skoala-bench-%d-%d", workers, time.Now().UnixNano())
			inProcessWorker(b, queue, config.NewSecretStore(nil), func(w worker.Worker) {
				app.Register(w, wcfg, config.NewSecretStore(nil))
			})
			ctx := context.Background()
			var total, fan, rest, alone time.Duration
			var busy, restBusy, self, lab float64
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
				var goAhead, canaryGo time.Time
				var cpu0, cpuCanary cpuSample
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
							switch s.Name {
							case "approve/clusters":
								goAhead, cpu0 = time.Now(), sampleCPU()
							case "approve/canary":
								canaryGo, cpuCanary = time.Now(), sampleCPU()
							}
						}
					}
					time.Sleep(50 * time.Millisecond)
				}
				require.NoError(b, run.Get(ctx, nil))
				wall := time.Since(goAhead)
				cpu1 := sampleCPU()
				total += wall
				busy += (cpu1.machine - cpu0.machine) / wall.Seconds()
				self += cpu1.self - cpu0.self
				lab += cpu1.lab - cpu0.lab
				st := benchStatus(b, id)
				fan += phase(st, in.Workers)
				canary := in.Canary
				if canary == "" {
					canary = in.Workers[0] // the plan's default
				}
				rest += sideBySide(st, in.Workers, canary)
				alone += stepSpan(st, []string{canary}, "")
				if !canaryGo.IsZero() {
					restBusy += (cpu1.machine - cpuCanary.machine) / goAhead.Add(wall).Sub(canaryGo).Seconds()
				}
			}
			b.StopTimer()
			b.ReportMetric(total.Seconds()/float64(b.N), "s/run-after-go-ahead")
			b.ReportMetric(fan.Seconds()/float64(b.N), "s/worker-phase")
			b.ReportMetric(rest.Seconds()/float64(b.N), "s/side-by-side")
			b.ReportMetric(alone.Seconds()/float64(b.N), "s/canary-lane")
			if workers > 1 {
				b.ReportMetric(rest.Seconds()/alone.Seconds(), "fan-out-ratio")
				// From the canary gate's approval to the end.
				b.ReportMetric(restBusy/float64(b.N), "side-by-side-cores-busy")
			}
			// How busy the machine's cores were from the go-ahead to the end
			// (2.0 = both cores saturated: the lab's API servers and the
			// worker compete for CPU, and wall time stops scaling), and the
			// CPU the worker itself (this process) spent.
			b.ReportMetric(busy/float64(b.N), "cores-busy")
			b.ReportMetric(self/float64(b.N), "worker-cpu-s/run")
			b.ReportMetric(lab/float64(b.N), "lab-cpu-s/run")
			// After the timer's last reset, which clears reported metrics.
			b.ReportMetric(perCluster, "MiB/cluster")
			b.ReportMetric(idle, "lab-idle-cores")
		})
	}
}

// phase is the worker clusters' part of a run: from the first step on a
// worker cluster to the last one's end (preflight and the canary gate's
// wait excluded).
func phase(st runbook.RunStatus, workers []string) time.Duration {
	var gate time.Duration
	if s := st.Step("approve/canary"); s != nil {
		gate = s.EndedAt.Sub(s.StartedAt)
	}
	return stepSpan(st, workers, "") - gate
}

// sideBySide is the part after the canary gate: the first start of a
// non-canary worker's step to the last end (zero with one worker).
func sideBySide(st runbook.RunStatus, workers []string, canary string) time.Duration {
	return stepSpan(st, workers, canary)
}

// stepSpan is the time from the first start to the last end of the steps on
// the workers (all but except), preflight excluded.
func stepSpan(st runbook.RunStatus, workers []string, except string) time.Duration {
	var first, last time.Time
	for _, s := range st.Steps {
		on := false
		for _, w := range workers {
			on = on || (w != except && strings.HasSuffix(s.Name, "@"+w))
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
	return last.Sub(first)
}

// cpuSample is the machine's busy CPU time (all cores, /proc/stat), this
// process's own (user + system) and the lab clusters' processes', in seconds.
type cpuSample struct{ machine, self, lab float64 }

func sampleCPU() cpuSample {
	const hz = 100 // USER_HZ on Linux
	var c cpuSample
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) // cpu user nice system idle iowait irq softirq steal
		for i, v := range f[1:] {
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			n, _ := strconv.ParseFloat(v, 64)
			c.machine += n / hz
		}
	}
	c.lab = labCPUSeconds()
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // state ppid … utime(12) stime(13)
		u, _ := strconv.ParseFloat(f[11], 64)
		k, _ := strconv.ParseFloat(f[12], 64)
		c.self = (u + k) / hz
	}
	return c
}

func benchStatus(b testing.TB, id string) runbook.RunStatus {
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
	var sum int64
	eachLabProc(func(dir string, _ []string) {
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				k, _ := strconv.ParseInt(f[1], 10, 64)
				sum += k
			}
		}
	})
	return sum
}

// labCPUSeconds sums the CPU time (user + system) the same processes have
// used so far.
func labCPUSeconds() float64 {
	var sum float64
	eachLabProc(func(_ string, stat []string) {
		u, _ := strconv.ParseFloat(stat[11], 64)
		k, _ := strconv.ParseFloat(stat[12], 64)
		sum += (u + k) / 100 // USER_HZ
	})
	return sum
}

// eachLabProc calls fn with the /proc directory and the fields after the
// command name in its stat file, for each lab cluster process this process
// started.
func eachLabProc(fn func(dir string, stat []string)) {
	me := strconv.Itoa(os.Getpid())
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
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
		if len(rest) < 13 || rest[1] != me {
			continue
		}
		if comm != "etcd" && !strings.HasPrefix(comm, "kube-apiserver") && !strings.HasPrefix(comm, "kube-controller") {
			continue
		}
		fn(filepath.Dir(p), rest)
	}
}
