package app

import (
	"os"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"
)

// LabHeartbeatEnv names the lab-only cap on heartbeat timeouts: a kill sweep
// loses one heartbeat timeout per kill inside a step, and 5 s tests the same
// contract (a dead worker is noticed, the next try resumes) as the 15–20 s
// the activities declare. Production workers never set it; the declarations
// stay as they are, only the timeout a worker's workflows schedule with is
// capped. Every worker of a run must run with the same value.
const LabHeartbeatEnv = "UPGRADER_LAB_HEARTBEAT_TIMEOUT"

// labHeartbeatCap returns the interceptor that caps heartbeat timeouts at
// the duration $UPGRADER_LAB_HEARTBEAT_TIMEOUT holds, or nil when unset.
func labHeartbeatCap() interceptor.WorkerInterceptor {
	d, err := time.ParseDuration(os.Getenv(LabHeartbeatEnv))
	if err != nil || d <= 0 {
		return nil
	}
	return &heartbeatCap{max: d}
}

type heartbeatCap struct {
	interceptor.WorkerInterceptorBase
	max time.Duration
}

func (c *heartbeatCap) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &heartbeatCapInbound{max: c.max}
	i.Next = next
	return i
}

type heartbeatCapInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	max time.Duration
}

func (i *heartbeatCapInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	o := &heartbeatCapOutbound{max: i.max}
	o.Next = outbound
	return i.Next.Init(o)
}

type heartbeatCapOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	max time.Duration
}

func (o *heartbeatCapOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	if hb := workflow.GetActivityOptions(ctx).HeartbeatTimeout; hb > o.max {
		ctx = workflow.WithHeartbeatTimeout(ctx, o.max)
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}
