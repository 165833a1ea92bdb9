package runbook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func (r *runner) runStep(ctx workflow.Context, i int) error {
	s := r.steps[i]
	st := &r.status.Steps[i]

	if s.OnlyIfSkipped != "" {
		if other := r.status.Steps[r.index[s.OnlyIfSkipped]]; other.State != StepSkipped {
			st.Result = fmt.Sprintf("not needed: %s is %s", s.OnlyIfSkipped, other.State)
			r.setState(ctx, i, StepSkipped)
			return nil
		}
	}

	if len(s.Requires) > 0 {
		if err := r.awaitRequires(ctx, i); err != nil {
			return err
		}
		if st.State == StepSkipped {
			return nil
		}
	}

	if s.Gate != nil {
		r.setState(ctx, i, StepWaitingApproval)
		r.logger.Info("waiting for approval", "step", s.Name, "prompt", s.Gate.Prompt)
		ans, err := r.await(ctx, i, s.Gate.RemindAfter)
		if err != nil {
			return r.interrupted(ctx, i, err)
		}
		st.Approval = &ans.answer
		if ans.reject {
			if s.Gate.SkipOnReject {
				r.logger.Info("gate rejected, step skipped", "step", s.Name, "by", ans.answer.By)
				r.setState(ctx, i, StepSkipped)
				return nil
			}
			r.setState(ctx, i, StepRejected)
			return &stopError{kind: ErrRejected, message: fmt.Sprintf(
				"%s rejected step %s: %s", ans.answer.By, s.Name, ans.answer.Comment)}
		}
	}

	if s.Activity == nil {
		r.setState(ctx, i, StepDone)
		return nil
	}

	for {
		st.Attempts++
		r.setState(ctx, i, StepRunning)
		var out Outcome
		actx := workflow.WithActivityOptions(ctx, activityOptions(s, st.Attempts))
		var fut workflow.Future
		if s.Input == nil {
			fut = workflow.ExecuteActivity(actx, s.Activity)
		} else {
			fut = workflow.ExecuteActivity(actx, s.Activity, s.Input)
		}
		err := fut.Get(ctx, &out)
		if err == nil {
			st.Result = out.Summary
			st.LastError = ""
			r.setState(ctx, i, StepDone)
			return nil
		}
		if ctx.Err() != nil {
			return r.interrupted(ctx, i, ctx.Err())
		}
		st.LastError = describe(err)
		r.logger.Warn("step failed; waiting for an operator to retry, skip or abort",
			"step", s.Name, "error", st.LastError)
		retry, err := r.decide(ctx, i)
		if err != nil || !retry {
			return err
		}
	}
}

// awaitRequires holds a step until every step it requires is done. A
// required step that was skipped is a failure the operator must answer:
// retrying re-checks, skip skips this step too, abort ends the run.
func (r *runner) awaitRequires(ctx workflow.Context, i int) error {
	s := r.steps[i]
	for {
		var missing []string
		for _, req := range s.Requires {
			if r.status.Steps[r.index[req]].State != StepDone {
				missing = append(missing, fmt.Sprintf("%s (%s)", req, r.status.Steps[r.index[req]].State))
			}
		}
		if len(missing) == 0 {
			return nil
		}
		r.status.Steps[i].LastError = fmt.Sprintf(
			"will not run: it needs %s done first; retry once that is fixed, skip this step too, or abort",
			strings.Join(missing, ", "))
		retry, err := r.decide(ctx, i)
		if err != nil || !retry {
			return err
		}
	}
}

// decide marks the step failed and waits for an operator. It returns
// retry=true to run the step again, retry=false with a nil error when the
// step was skipped, and a stopError when the run is aborted.
func (r *runner) decide(ctx workflow.Context, i int) (bool, error) {
	s := r.steps[i]
	st := &r.status.Steps[i]
	r.setState(ctx, i, StepFailedAwaiting)
	var remindAfter time.Duration
	if s.Gate != nil {
		remindAfter = s.Gate.RemindAfter
	}
	ans, err := r.await(ctx, i, remindAfter)
	if err != nil {
		return false, r.interrupted(ctx, i, err)
	}
	st.Decisions = append(st.Decisions, ans.answer)
	st.Overdue = false
	switch ans.action {
	case ActionRetry:
		r.logger.Info("operator chose retry", "step", s.Name, "by", ans.answer.By)
		return true, nil
	case ActionSkip:
		r.logger.Info("operator chose skip", "step", s.Name, "by", ans.answer.By, "comment", ans.answer.Comment)
		r.setState(ctx, i, StepSkipped)
		return false, nil
	default:
		r.setState(ctx, i, StepAborted)
		return false, &stopError{kind: ErrAborted, message: fmt.Sprintf(
			"%s aborted the upgrade at step %s: %s (last error: %s)",
			ans.answer.By, s.Name, ans.answer.Comment, st.LastError)}
	}
}

// interrupted records a step cut short by cancellation.
func (r *runner) interrupted(ctx workflow.Context, i int, err error) error {
	st := &r.status.Steps[i]
	if st.State == StepRunning || st.State == StepWaitingApproval || st.State == StepFailedAwaiting {
		r.setState(ctx, i, StepAborted)
	}
	return err
}

// describe turns an activity failure into the one line the operator reads:
// the root cause's message, with the timeout kind when it timed out.
func describe(err error) string {
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		msg := fmt.Sprintf("timed out (%s)", strings.ToLower(strings.TrimPrefix(timeout.TimeoutType().String(), "TIMEOUT_TYPE_")))
		if cause := errors.Unwrap(timeout); cause != nil {
			msg += ": " + describe(cause)
		}
		return msg
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.Type() != "" && app.Type() != "errorString" && app.Type() != "wrapError" && app.Type() != "*fmt.wrapError" {
			return app.Message() + " [" + app.Type() + "]"
		}
		return app.Message()
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "cancelled"
	}
	return err.Error()
}
