package integration_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/config"
	"upgrader/internal/app"
	"upgrader/workflows/runbook"
)

// inProcessWorker runs a worker with upgrader's real options (the scrubbing
// interceptor) on its own task queue, plus whatever the test registers.
func inProcessWorker(t testing.TB, queue string, secrets *config.SecretStore, register func(worker.Worker)) {
	w := worker.New(temporalClient(), queue, app.WorkerOptions(secrets))
	register(w)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

func TestActivityFailuresAreScrubbedOfSecretsBeforeHistory(t *testing.T) {
	const pw = "Tr0ub4dor-root-pw-9931"
	secrets := config.NewSecretStore(map[string]config.Secret{"mysql-root": {Value: pw}})
	inProcessWorker(t, "scrub-test", secrets, func(w worker.Worker) {
		w.RegisterActivityWithOptions(func(ctx context.Context) (runbook.Outcome, error) {
			v, err := secrets.Resolve("mysql-root")
			if err != nil {
				return runbook.Outcome{}, err
			}
			// What a careless driver or command line does: quote the DSN.
			return runbook.Outcome{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("cannot connect to root:%s@tcp(10.0.0.3:3306)", v), "ConnectFailed", nil)
		}, activity.RegisterOptions{Name: "ConnectWithSecret"})
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (runbook.RunStatus, error) {
			return runbook.Run(ctx, runbook.Guide{Name: "scrub", Title: "scrub"}, runbook.Target{Environment: "lab", From: "1", To: "2"},
				[]runbook.Step{{Name: "connect/mysql", Kind: runbook.KindSQL, Summary: "connect", Activity: "ConnectWithSecret"}})
		}, workflow.RegisterOptions{Name: "ScrubTest"})
	})
	id := runbook.WorkflowID("scrub", "lab")
	ctx := context.Background()
	_, err := temporalClient().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "scrub-test"}, "ScrubTest")
	require.NoError(t, err)
	eventually(t, 30*time.Second, "the failed step", func() bool { return status(t, id).State == runbook.RunFailedAwaiting })
	st := status(t, id)
	require.Equal(t, "cannot connect to root:***@tcp(10.0.0.3:3306) [ConnectFailed]", st.Step("connect/mysql").LastError)

	h, err := temporalClient().UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: runbook.UpdateDecide,
		Args: []any{runbook.Decision{Step: "connect/mysql", Action: runbook.ActionAbort, By: "t", Comment: "done"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	err = temporalClient().GetWorkflow(ctx, id, "").Get(ctx, nil)
	require.ErrorContains(t, err, "root:***@tcp")
	assertNoSecrets(t, id, "", 5, pw)
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// TestDemoCommandRunsEverythingLocally is the README's main command, run
// unattended: its own dev server with the Web UI, a worker, the demo run.
func TestDemoCommandRunsEverythingLocally(t *testing.T) {
	port, uiPort := freePort(t), freePort(t)
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "starter"), "demo", "--auto-approve", "--exit",
		"--state-dir", state, "--port", port, "--ui-port", uiPort, "--codec-port", freePort(t), "--work", "1")
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())

	uiUp := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			resp, err := http.Get("http://127.0.0.1:" + uiPort + "/namespaces/default/workflows")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					uiUp <- true
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		uiUp <- false
	}()
	err := cmd.Wait()
	mu.Lock()
	text := out.String()
	mu.Unlock()
	require.NoError(t, err, text)
	require.True(t, <-uiUp, "the Web UI answered on port %s", uiPort)
	for _, want := range []string{
		"Web UI: http://127.0.0.1:" + uiPort + "/namespaces/default/workflows/upgrade%2Fdemo%2Flab",
		"approve/delete-old-releases waits for approval",
		"approve upgrade/demo/lab approve/delete-old-releases --comment",
		"(approved approve/delete-old-releases automatically)",
		"wait-up/hzero-iam",
		"upgrade/demo/lab completed: 13 steps",
		"report: " + filepath.Join(state, "artifacts", "upgrade", "demo", "lab"),
	} {
		require.Contains(t, text, want)
	}
	reports, _ := filepath.Glob(filepath.Join(state, "artifacts", "upgrade", "demo", "lab", "*", "report.html"))
	require.NotEmpty(t, reports, "the demo run leaves its report in its artifact folder")
	_, err = os.Stat(filepath.Join(state, "temporal.db"))
	require.NoError(t, err, "the dev server keeps its state for the next demo")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// BenchmarkStepOverheadOnDevServer measures what the runbook adds per step on
// a real dev server: a run of 10 steps whose activity does nothing.
func BenchmarkStepOverheadOnDevServer(b *testing.B) {
	const steps = 10
	inProcessWorker(b, "bench", config.NewSecretStore(nil), func(w worker.Worker) {
		w.RegisterActivityWithOptions(func(ctx context.Context) (runbook.Outcome, error) {
			return runbook.Outcome{Summary: "ok"}, nil
		}, activity.RegisterOptions{Name: "Noop"})
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (runbook.RunStatus, error) {
			var plan []runbook.Step
			for i := 0; i < steps; i++ {
				plan = append(plan, runbook.Step{Name: fmt.Sprintf("step/%d", i), Kind: runbook.KindCheck, Summary: "noop", Activity: "Noop"})
			}
			return runbook.Run(ctx, runbook.Guide{Name: "bench", Title: "bench"}, runbook.Target{Environment: "lab", From: "1", To: "2"}, plan)
		}, workflow.RegisterOptions{Name: "BenchUpgrade"})
	})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run, err := temporalClient().ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: fmt.Sprintf("bench/%d/%d", time.Now().UnixNano(), i), TaskQueue: "bench"}, "BenchUpgrade")
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*steps), "ms/step")
}

// BenchmarkBaselineActivitiesOnDevServer is the same 10 no-op activities in a
// plain workflow: what Temporal itself costs per step here, for comparison.
func BenchmarkBaselineActivitiesOnDevServer(b *testing.B) {
	const steps = 10
	inProcessWorker(b, "bench-baseline", config.NewSecretStore(nil), func(w worker.Worker) {
		w.RegisterActivityWithOptions(func(ctx context.Context) error { return nil }, activity.RegisterOptions{Name: "Noop"})
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
			ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
			for i := 0; i < steps; i++ {
				if err := workflow.ExecuteActivity(ctx, "Noop").Get(ctx, nil); err != nil {
					return err
				}
			}
			return nil
		}, workflow.RegisterOptions{Name: "BenchBaseline"})
	})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run, err := temporalClient().ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: fmt.Sprintf("bench-baseline/%d/%d", time.Now().UnixNano(), i), TaskQueue: "bench-baseline"}, "BenchBaseline")
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*steps), "ms/step")
}
