package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	labsrv "upgrader/tests/lab"
)

// The SQL and dump tests run the real worker binary (activities as the
// worker registers them, SyncProgress included) on a task queue of their
// own; a workflow in the test process calls one activity there with the
// heartbeat timeout a step would get, scaled down to 5 s.

// dbLab is one MariaDB and the worker processes that reach it.
type dbLab struct {
	maria *labsrv.MariaDB
	queue string
	dir   string
}

func newDBLab(t *testing.T, queue string) *dbLab {
	return &dbLab{maria: labsrv.StartMariaDB(t), queue: queue, dir: t.TempDir()}
}

func (l *dbLab) exec(t *testing.T, qs ...string) {
	t.Helper()
	db, err := sql.Open("mysql", l.maria.DSN("root", l.maria.RootPassword, ""))
	require.NoError(t, err)
	defer db.Close()
	for _, q := range qs {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

func (l *dbLab) ints(t *testing.T, q string) []int {
	t.Helper()
	db, err := sql.Open("mysql", l.maria.DSN("root", l.maria.RootPassword, ""))
	require.NoError(t, err)
	defer db.Close()
	row := db.QueryRow(q)
	cols := strings.Count(strings.SplitN(q, " FROM ", 2)[0], ",") + 1
	out := make([]int, cols)
	ptrs := make([]any, cols)
	for i := range out {
		ptrs[i] = &out[i]
	}
	require.NoError(t, row.Scan(ptrs...), q)
	return out
}

// worker starts a worker process with its own artifact folder (so nothing
// but Temporal carries progress from one worker to the next).
func (l *dbLab) worker(t *testing.T, name string, env ...string) *workerProc {
	cfg := writeFile(t, filepath.Join(l.dir, name, "worker.yaml"), fmt.Sprintf(`
temporal:
  address: %s
  taskQueue: %s
artifactDir: %s
secrets:
  db-root: {value: %q}
`, server.FrontendHostPort(), l.queue, filepath.Join(l.dir, name, "artifacts"), l.maria.RootPassword))
	return startWorker(t, cfg, env...)
}

func (l *dbLab) target() activities.DBTarget {
	return activities.DBTarget{Name: "lab-mysql", Address: l.maria.Addr, User: "root", PasswordRef: "db-root"}
}

// stepCall is one activity on the worker's queue, as a runbook step would
// schedule it.
type stepCall struct {
	Queue      string                        `json:"queue"`
	ActivityID string                        `json:"activityId"`
	Heartbeat  time.Duration                 `json:"heartbeat"`
	Script     *activities.SQLScriptInput    `json:"script,omitempty"`
	Dump       *activities.DumpInput         `json:"dump,omitempty"`
	Verify     *activities.VerifyBackupInput `json:"verify,omitempty"`
}

type stepOutcome struct {
	Script *activities.SQLScriptResult    `json:"script,omitempty"`
	Dump   *activities.DumpResult         `json:"dump,omitempty"`
	Verify *activities.VerifyBackupResult `json:"verify,omitempty"`
}

func oneStepWorkflow(ctx workflow.Context, c stepCall) (stepOutcome, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: c.Queue, ActivityID: c.ActivityID,
		StartToCloseTimeout: 5 * time.Minute, HeartbeatTimeout: c.Heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1, MaximumAttempts: 5},
	})
	var out stepOutcome
	switch {
	case c.Script != nil:
		out.Script = &activities.SQLScriptResult{}
		return out, workflow.ExecuteActivity(ctx, "RunScript", *c.Script).Get(ctx, out.Script)
	case c.Dump != nil:
		out.Dump = &activities.DumpResult{}
		return out, workflow.ExecuteActivity(ctx, "DumpMySQL", *c.Dump).Get(ctx, out.Dump)
	default:
		out.Verify = &activities.VerifyBackupResult{}
		return out, workflow.ExecuteActivity(ctx, "VerifyBackup", *c.Verify).Get(ctx, out.Verify)
	}
}

// startStep runs oneStepWorkflow from an in-process worker that has no
// activities (so it polls no activity task) on a queue of its own.
func (l *dbLab) startStep(t *testing.T, id string, c stepCall) client.WorkflowRun {
	t.Helper()
	wfQueue := l.queue + "-wf"
	inProcessWorker(t, wfQueue, config.NewSecretStore(nil), func(w worker.Worker) {
		w.RegisterWorkflowWithOptions(oneStepWorkflow, workflow.RegisterOptions{Name: "OneStep-" + l.queue})
	})
	c.Queue = l.queue
	run, err := temporalClient().ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: wfQueue},
		"OneStep-"+l.queue, c)
	require.NoError(t, err)
	return run
}

func waitStep(t *testing.T, run client.WorkflowRun, timeout time.Duration) stepOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out stepOutcome
	require.NoError(t, run.Get(ctx, &out))
	return out
}

// activityAttempt is the attempt that completed the step's activity, from
// history.
func activityAttempt(t *testing.T, run client.WorkflowRun) int32 {
	it := temporalClient().GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil {
			return a.GetAttempt()
		}
	}
	t.Fatal("no activity started in history")
	return 0
}

// groupAlive lists the processes of a process group still alive (zombies
// excluded), from /proc.
func groupAlive(pgid int) []string {
	var alive []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		f := strings.Fields(rest) // state ppid pgrp ...
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid || pid == pgid {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			alive = append(alive, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
	}
	return alive
}

// processesRunning counts live processes whose command line contains s,
// not counting the reaper shell a step's local command runs under
// (activities/proc.go), whose arguments hold the command's.
func processesRunning(s string) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), s) || strings.Contains(string(cmd), "\x00upgrader-step\x00") {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			x := string(st)
			if f := strings.Fields(x[strings.LastIndexByte(x, ')')+2:]); len(f) > 0 && f[0] == "Z" {
				continue
			}
		}
		n++
	}
	return n
}
