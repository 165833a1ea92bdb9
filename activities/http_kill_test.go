package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"upgrader/activities"
	"upgrader/internal/contract"
)

// Environment of TestAPIWorkerProcess, the worker the kill test starts as a
// child process of the test binary (so SIGKILL takes it whole).
const (
	httpWorkerAddrEnv  = "UPGRADER_TEST_HTTP_WORKER_ADDR"
	httpWorkerQueueEnv = "UPGRADER_TEST_HTTP_WORKER_QUEUE"
)

// TestAPIWorkerProcess is not a test: it is the worker process of
// TestWorkerKilledWhileCallingAnAPI, run until it is killed. (The kill test
// starts a dev server, so its name keeps it out of `-run HTTP`.)
func TestAPIWorkerProcess(t *testing.T) {
	addr := os.Getenv(httpWorkerAddrEnv)
	if addr == "" {
		t.Skip("the worker process of the kill test")
	}
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: "default"})
	require.NoError(t, err)
	w := worker.New(c, os.Getenv(httpWorkerQueueEnv), worker.Options{})
	w.RegisterActivity(&activities.HTTP{Secrets: labSecrets()})
	w.RegisterWorkflow(httpStepWorkflow)
	require.NoError(t, w.Run(worker.InterruptCh()))
}

func temporalCLI() string {
	if p := os.Getenv("UPGRADER_TEMPORAL_BIN"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "upgrader", "bin", "temporal-1.5.1")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// startHTTPWorker starts a worker process; kill ends it with SIGKILL.
func startHTTPWorker(t *testing.T, addr, queue string) (kill func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestAPIWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), httpWorkerAddrEnv+"="+addr, httpWorkerQueueEnv+"="+queue)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	require.NoError(t, cmd.Start())
	var once sync.Once
	kill = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		})
	}
	t.Cleanup(kill)
	return kill
}

// On a real dev server, the worker is SIGKILLed while the service works on
// a POST (the request arrived, no answer yet). Temporal notices at the
// heartbeat timeout and gives attempt 2 to a new worker process: without a
// check it finds the "about to send" record and stops for a person; with
// one it asks the service and succeeds. Either way the POST arrived once.
func TestWorkerKilledWhileCallingAnAPI(t *testing.T) {
	bin := temporalCLI()
	if bin == "" || testing.Short() {
		t.Skip("needs the pinned Temporal CLI (scripts/build-tools.sh temporal)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{ExistingPath: bin, LogLevel: "error",
		ClientOptions: &client.Options{Namespace: "default"}})
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()
	c := srv.Client()

	for _, tc := range []struct {
		name  string
		check *activities.HTTPCheck
	}{
		{"no-check", nil},
		{"check", &activities.HTTPCheck{URL: "/iam/v1/organizations/1/clients?name=choerodon", Done: map[string]string{"content.*.name": "choerodon"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var posts atomic.Int32
			var mu sync.Mutex
			var clients []string
			arrived := make(chan struct{}, 4)
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != labToken {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				if r.Method == http.MethodPost {
					var in struct{ Name string }
					b, _ := io.ReadAll(r.Body) // read whole: the server then notices the closed connection
					_ = json.Unmarshal(b, &in)
					posts.Add(1)
					mu.Lock()
					clients = append(clients, in.Name)
					mu.Unlock()
					arrived <- struct{}{}
					<-r.Context().Done() // working on it when the worker dies
					return
				}
				mu.Lock()
				defer mu.Unlock()
				content := []map[string]string{}
				for _, n := range clients {
					content = append(content, map[string]string{"name": n})
				}
				_ = json.NewEncoder(w).Encode(map[string]any{"content": content})
			}))
			defer api.Close()

			queue := "http-kill-" + tc.name
			kill := startHTTPWorker(t, srv.FrontendHostPort(), queue)
			call := activities.HTTPCallInput{Method: "POST", URL: api.URL + "/iam/v1/organizations/1/clients",
				SecretHeaders: map[string]string{"Authorization": "c7n-admin-token"},
				Body:          `{"name":"choerodon","secret":{{ secret "c7n-oauth" | json }}}`, BodyTemplate: true, Check: tc.check}
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "http-kill-" + tc.name, TaskQueue: queue},
				"httpStepWorkflow", stepInput{Step: "create-oauth-client/choerodon", Call: call, Heartbeat: 2 * time.Second})
			require.NoError(t, err)

			select {
			case <-arrived:
			case <-ctx.Done():
				t.Fatal("the POST never arrived")
			}
			kill()
			killed := time.Now()
			startHTTPWorker(t, srv.FrontendHostPort(), queue)

			var res activities.HTTPCallResult
			err = run.Get(ctx, &res)
			t.Logf("%s: the step's activity ended %.1f s after the kill (heartbeat timeout 2 s, retry after 1 s), the run %.1f s after",
				tc.name, activityEnd(ctx, t, c, run).Sub(killed).Seconds(), time.Since(killed).Seconds())
			require.Equal(t, int32(1), posts.Load(), "the POST arrived once")
			if tc.check == nil {
				var app *temporal.ApplicationError
				require.True(t, errors.As(err, &app), "%v", err)
				require.Equal(t, contract.ErrNotRepeatable, app.Type())
				require.Regexp(t, `^create-oauth-client/choerodon: POST http://127\.0\.0\.1:\d+/iam/v1/organizations/1/clients: `+
					`the call may have been made at \d\d:\d\d:\d\d UTC by try 1, attempt 1 \(its answer or its worker was lost\)`, app.Message())
				return
			}
			require.NoError(t, err)
			require.True(t, res.AlreadyDone)
		})
	}
}

// activityEnd is when the run's activity completed or failed, from history.
func activityEnd(ctx context.Context, t *testing.T, c client.Client, run client.WorkflowRun) time.Time {
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			return ev.GetEventTime().AsTime()
		}
	}
	return time.Time{}
}
