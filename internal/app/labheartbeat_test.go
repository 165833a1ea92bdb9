package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"upgrader/config"
	"upgrader/internal/app"
)

// The lab's cap lowers a longer heartbeat timeout and leaves a shorter one
// (and the absence of one) alone; without the variable nothing changes.
func TestLabHeartbeatCapLowersLongerTimeoutsOnly(t *testing.T) {
	for _, c := range []struct {
		env  string
		want []time.Duration
	}{
		{"5s", []time.Duration{5 * time.Second, 3 * time.Second, 0}},
		{"", []time.Duration{20 * time.Second, 3 * time.Second, 0}},
	} {
		t.Run("cap="+c.env, func(t *testing.T) {
			t.Setenv(app.LabHeartbeatEnv, c.env)
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.SetWorkerOptions(app.WorkerOptions(config.NewSecretStore(nil)))
			env.RegisterActivityWithOptions(func(ctx context.Context) (time.Duration, error) {
				return activity.GetInfo(ctx).HeartbeatTimeout, nil
			}, activity.RegisterOptions{Name: "Beat"})
			env.RegisterWorkflowWithOptions(func(ctx workflow.Context) ([]time.Duration, error) {
				var out []time.Duration
				for _, hb := range []time.Duration{20 * time.Second, 3 * time.Second, 0} {
					actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: hb})
					var got time.Duration
					if err := workflow.ExecuteActivity(actx, "Beat").Get(ctx, &got); err != nil {
						return nil, err
					}
					out = append(out, got)
				}
				return out, nil
			}, workflow.RegisterOptions{Name: "W"})
			env.ExecuteWorkflow("W")
			require.NoError(t, env.GetWorkflowError())
			var got []time.Duration
			require.NoError(t, env.GetWorkflowResult(&got))
			require.Equal(t, c.want, got)
		})
	}
}
