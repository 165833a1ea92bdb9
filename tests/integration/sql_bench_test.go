package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	labsrv "upgrader/tests/lab"
)

// BenchmarkSQLScriptProgress measures what recording each statement's
// progress in Temporal before the next one starts (SyncProgress, as the
// worker runs it) costs against the SDK's batched heartbeats: a script of
// 100 trivial statements on the dev server, reported per statement.
func BenchmarkSQLScriptProgress(b *testing.B) {
	maria := labsrv.StartMariaDB(b)
	secrets := config.NewSecretStore(map[string]config.Secret{"db-root": {Value: maria.RootPassword}})
	const n = 100
	script := strings.Repeat("DO 0;\n", n)
	for _, sync := range []bool{true, false} {
		name := map[bool]string{true: "sync", false: "batched"}[sync]
		b.Run(name, func(b *testing.B) {
			queue := "sql-bench-" + name
			inProcessWorker(b, queue, secrets, func(w worker.Worker) {
				w.RegisterActivity(&activities.MySQL{Secrets: secrets, Scrub: secrets, SyncProgress: sync})
				w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in activities.SQLScriptInput) error {
					ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: 20 * time.Second})
					return workflow.ExecuteActivity(ctx, "RunScript", in).Get(ctx, nil)
				}, workflow.RegisterOptions{Name: "SQLBench-" + name})
			})
			in := activities.SQLScriptInput{DB: activities.DBTarget{Address: maria.Addr, User: "root", PasswordRef: "db-root"}, Name: "bench.sql", Script: script}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run, err := temporalClient().ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
					ID: fmt.Sprintf("sql-bench-%s-%d-%d", name, time.Now().UnixNano(), i), TaskQueue: queue}, "SQLBench-"+name, in)
				if err != nil {
					b.Fatal(err)
				}
				if err := run.Get(context.Background(), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "us/stmt")
		})
	}
}
