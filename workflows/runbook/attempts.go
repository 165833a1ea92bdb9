package runbook

import (
	"context"
	"errors"
	"reflect"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Within one operator try, Temporal may run a step's activity several times
// (a heartbeat timeout after a worker died, a passing failure): the retry
// policy. The workflow sees only the last attempt's outcome; what came
// before lives in the activity's ActivityTaskStarted event (its attempt
// number and lastFailure), written when the activity closes. After a try
// that could have had more than one attempt, the runbook reads that event
// with a local activity and records it in the step's Tries.

// recordAttempts fills the last TryStatus of step i after its activity
// ended with err (nil on success).
func (r *runner) recordAttempts(ctx workflow.Context, i int, opts workflow.ActivityOptions, started time.Time, err error) {
	tries := r.status.Steps[i].Tries
	if len(tries) == 0 {
		return
	}
	tr := &tries[len(tries)-1]
	final := ""
	if err != nil {
		final = describe(err)
	}
	in := AttemptsInput{ActivityID: opts.ActivityID}
	var actErr *temporal.ActivityError
	if errors.As(err, &actErr) {
		tr.Worker = actErr.Identity()
		in.StartedEventID = actErr.StartedEventID()
		if actErr.RetryState() == enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED && opts.RetryPolicy != nil {
			tr.Attempts = opts.RetryPolicy.MaximumAttempts
		}
	}
	// A second attempt starts no sooner than the retry policy's first
	// interval after the first one failed: a try that ended sooner had one.
	if opts.RetryPolicy != nil && workflow.Now(ctx).Sub(started) < opts.RetryPolicy.InitialInterval {
		tr.Attempts = 1
	} else if r.v1 {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			ScheduleToCloseTimeout: 10 * time.Second,
			RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 2},
		})
		var got AttemptsResult
		if lerr := workflow.ExecuteLocalActivity(lctx, LookupAttempts, in).Get(ctx, &got); lerr == nil && got.Found {
			tr.Attempts = got.Attempt
			if got.Identity != "" {
				tr.Worker = got.Identity
			}
			if got.Attempt > 1 && got.LastFailure != "" {
				tr.Failures = append(tr.Failures, AttemptFailure{Attempt: got.Attempt - 1, Failure: got.LastFailure})
			}
		}
	}
	if err != nil {
		tr.Failures = append(tr.Failures, AttemptFailure{Attempt: tr.Attempts, Failure: final})
	}
}

// AttemptsInput names one activity execution of this run, for LookupAttempts.
type AttemptsInput struct {
	ActivityID     string `json:"activityId"`
	StartedEventID int64  `json:"startedEventId,omitempty"`
}

// AttemptsResult is what an activity's started event says: the number of
// its last attempt and the failure of the attempt before it.
type AttemptsResult struct {
	Found       bool   `json:"found"`
	Attempt     int32  `json:"attempt"`
	LastFailure string `json:"lastFailure,omitempty"`
	Identity    string `json:"identity,omitempty"`
}

// LookupAttempts is the local activity that reads, from the end of this
// run's history, the started event of one activity execution: the number of
// its last attempt and the failure of the attempt before. It finds nothing
// (and fails nothing) where the worker has no client, as in unit tests.
func LookupAttempts(ctx context.Context, in AttemptsInput) (AttemptsResult, error) {
	c := activity.GetClient(ctx)
	if c == nil || reflect.ValueOf(c).IsNil() {
		return AttemptsResult{}, nil
	}
	info := activity.GetInfo(ctx)
	req := &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
		Namespace:       info.Namespace,
		Execution:       &commonpb.WorkflowExecution{WorkflowId: info.WorkflowExecution.ID, RunId: info.WorkflowExecution.RunID},
		MaximumPageSize: 200,
	}
	startedBy := map[int64]*historypb.HistoryEvent{} // by scheduled event ID
	for page := 0; page < 25; page++ {
		resp, err := c.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, req)
		if err != nil {
			return AttemptsResult{}, err
		}
		for _, e := range resp.GetHistory().GetEvents() {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				if in.StartedEventID != 0 && e.GetEventId() == in.StartedEventID {
					return startedResult(e), nil
				}
				startedBy[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()] = e
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				if e.GetActivityTaskScheduledEventAttributes().GetActivityId() == in.ActivityID {
					if s, ok := startedBy[e.GetEventId()]; ok {
						return startedResult(s), nil
					}
					return AttemptsResult{}, nil
				}
			}
		}
		if len(resp.GetNextPageToken()) == 0 {
			break
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
	return AttemptsResult{}, nil
}

func startedResult(e *historypb.HistoryEvent) AttemptsResult {
	a := e.GetActivityTaskStartedEventAttributes()
	return AttemptsResult{Found: true, Attempt: a.GetAttempt(), LastFailure: failureLine(a.GetLastFailure()),
		Identity: a.GetIdentity()}
}

// failureLine is a failure as the operator reads it: its message and, for
// an application failure, its type.
func failureLine(f *failurepb.Failure) string {
	if f == nil {
		return ""
	}
	msg := f.GetMessage()
	if t := f.GetApplicationFailureInfo().GetType(); t != "" && t != "errorString" && t != "wrapError" && t != "*fmt.wrapError" {
		msg += " [" + t + "]"
	}
	if c := f.GetCause(); c != nil && c.GetMessage() != "" && c.GetMessage() != f.GetMessage() {
		msg += ": " + failureLine(c)
	}
	return msg
}
