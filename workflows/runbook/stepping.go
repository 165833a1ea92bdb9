package runbook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"upgrader/internal/contract"
)

// runStep runs step i through its phases: the checks before it (only if
// skipped, requires), its gate, the values it takes from earlier steps, and
// its activity, pausing for an operator wherever one fails. A step that
// waited for a person when the run continued as new goes on from there.
func (r *runner) runStep(ctx workflow.Context, i int) error {
	s := r.steps[i]
	st := &r.status.Steps[i]
	switch st.State {
	case StepDone, StepSkipped:
		return nil // done before the run continued as new, or an expanded step already run
	}
	resume := ""
	if st.State != StepPending {
		resume = r.phase[s.Name]
		switch {
		case resume != "":
		case st.State == StepWaitingApproval:
			resume = phaseGate
		default:
			resume = phaseStarted // a placeholder whose steps were running
		}
	}
	if resume == "" && s.OnlyIfSkipped != "" {
		if other := r.status.Steps[r.index[s.OnlyIfSkipped]]; other.State != StepSkipped {
			st.Result = fmt.Sprintf("not needed: %s is %s", s.OnlyIfSkipped, other.State)
			r.setState(ctx, i, StepSkipped)
			return nil
		}
	}

	if resume == "" || resume == phaseRequires {
		if len(s.Requires) > 0 {
			if err := r.awaitRequires(ctx, i, resume == phaseRequires); err != nil {
				return err
			}
			if r.status.Steps[i].State == StepSkipped {
				return nil
			}
		}
		resume = ""
	}
	if r.steps[i].Expand != nil {
		return r.runExpand(ctx, i, resume)
	}

	if s = r.steps[i]; s.Gate != nil && (resume == "" || resume == phaseGate) {
		r.phase[s.Name] = phaseGate
		if len(s.Gate.Show) > 0 {
			r.status.Steps[i].Prompt = r.shownPrompt(s.Gate)
		}
		r.setState(ctx, i, StepWaitingApproval)
		r.logger.Info("waiting for approval", "step", s.Name, "prompt", s.Gate.Prompt)
		ans, err := r.await(ctx, i, s.Gate.RemindAfter)
		if err != nil {
			return r.interrupted(ctx, i, err)
		}
		delete(r.phase, s.Name)
		s = r.steps[i] // an approval may carry a corrected config
		r.status.Steps[i].Approval = &ans.answer
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
		resume = ""
	}

	if r.steps[i].Activity == nil {
		r.setState(ctx, i, StepDone)
		return nil
	}
	return r.runActivity(ctx, i, resume)
}

// runActivity runs a step's activity, one operator try at a time: a try
// that fails (after Temporal's own attempts) pauses the step until an
// operator retries, skips or aborts. Each try reads the step afresh, so a
// retry that carried a corrected config runs with it.
func (r *runner) runActivity(ctx workflow.Context, i int, resume string) error {
	var carry []byte // the last heartbeat details of a try whose worker was lost
	for {
		input, err := r.awaitInputs(ctx, i, resume == phaseInputs)
		if err != nil {
			return err
		}
		if r.status.Steps[i].State == StepSkipped {
			return nil
		}
		if resume != phaseActivity {
			err := r.try(ctx, i, input, carry)
			if err == nil {
				return nil
			} else if ctx.Err() != nil {
				return r.interrupted(ctx, i, ctx.Err())
			}
			if lost, details := r.workerLost(ctx, i, err); lost {
				if details != nil {
					carry = details
				}
				continue
			}
			r.logger.Warn("step failed; waiting for an operator to retry, skip or abort",
				"step", r.steps[i].Name, "error", r.status.Steps[i].LastError)
		}
		carry = nil
		resume = ""
		r.phase[r.steps[i].Name] = phaseActivity
		retry, err := r.decide(ctx, i)
		if err != nil || !retry {
			return err
		}
	}
}

// try runs one try of step i's activity with input and records it: its
// result and outputs, or its failure, and Temporal's attempts within it.
// carry, when set, is handed to the activity as its prior progress.
func (r *runner) try(ctx workflow.Context, i int, input any, carry []byte) error {
	s := r.steps[i]
	r.status.Steps[i].Attempts++
	n := r.status.Steps[i].Attempts
	r.status.Steps[i].Tries = append(r.status.Steps[i].Tries, TryStatus{Try: n})
	opts := activityOptions(s, n)
	r.status.Steps[i].Site, opts.TaskQueue = QueueOf(r.sites(), r.steps, s)
	r.status.Steps[i].TaskQueue = opts.TaskQueue
	r.setState(ctx, i, StepRunning)
	actx := workflow.WithActivityOptions(ctx, opts)
	if carry != nil {
		actx = contract.WithCarried(actx, carry)
	}
	started := workflow.Now(ctx)
	var fut workflow.Future
	if input == nil {
		fut = workflow.ExecuteActivity(actx, s.Activity)
	} else {
		fut = workflow.ExecuteActivity(actx, s.Activity, input)
	}
	var out Outcome
	err := fut.Get(ctx, &out)
	if ctx.Err() != nil {
		return err
	}
	r.recordAttempts(ctx, i, opts, started, err)
	st := &r.status.Steps[i]
	if err == nil {
		st.Result = out.Summary
		st.Outputs = out.Outputs
		st.Items = out.Items
		st.LastError = ""
		delete(r.phase, s.Name)
		r.setState(ctx, i, StepDone)
		return nil
	}
	st.LastError = describe(err)
	return err
}

// awaitRequires holds a step until every step it requires is done. A
// required step that was skipped is a failure the operator must answer:
// retrying re-checks, skip skips this step too, abort ends the run. paused
// says the step already waits for that answer (a continued run).
func (r *runner) awaitRequires(ctx workflow.Context, i int, paused bool) error {
	for {
		if !paused {
			var missing []string
			for _, req := range r.steps[i].Requires {
				if st := r.status.Steps[r.index[req]]; st.State != StepDone {
					missing = append(missing, fmt.Sprintf("%s (%s)", req, st.State))
				}
			}
			if len(missing) == 0 {
				delete(r.phase, r.steps[i].Name)
				return nil
			}
			r.status.Steps[i].LastError = fmt.Sprintf(
				"will not run: it needs %s done first; retry once that is fixed, skip this step too, or abort",
				strings.Join(missing, ", "))
			r.phase[r.steps[i].Name] = phaseRequires
		}
		paused = false
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
	r.setState(ctx, i, StepFailedAwaiting)
	var remindAfter time.Duration
	if s.Gate != nil {
		remindAfter = s.Gate.RemindAfter
	}
	ans, err := r.await(ctx, i, remindAfter)
	if err != nil {
		return false, r.interrupted(ctx, i, err)
	}
	st := &r.status.Steps[i] // a corrected config may have rebuilt the status
	st.Decisions = append(st.Decisions, ans.answer)
	st.Overdue = false
	switch ans.action {
	case ActionRetry:
		r.logger.Info("operator chose retry", "step", s.Name, "by", ans.answer.By, "config", ans.answer.Config)
		return true, nil
	case ActionSkip:
		delete(r.phase, s.Name)
		r.logger.Info("operator chose skip", "step", s.Name, "by", ans.answer.By, "comment", ans.answer.Comment)
		r.setState(ctx, i, StepSkipped)
		return false, nil
	default:
		r.setState(ctx, i, StepAborted)
		return false, &stopError{kind: ErrAborted, rollback: ans.rollback, message: fmt.Sprintf(
			"%s aborted the upgrade at step %s: %s (last error: %s)",
			ans.answer.By, s.Name, ans.answer.Comment, st.LastError)}
	}
}

// interrupted records a step cut short by cancellation. A step cut short
// because the run continues as new keeps its state: the next run resumes it.
func (r *runner) interrupted(ctx workflow.Context, i int, err error) error {
	if r.continuing {
		return err
	}
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

// shownPrompt is a gate's prompt with what the steps it shows found: their
// result and outputs, as their status holds them.
func (r *runner) shownPrompt(g *Gate) string {
	var b strings.Builder
	b.WriteString(g.Prompt)
	for _, n := range g.Show {
		j, ok := r.index[n]
		if !ok {
			continue
		}
		st := r.status.Steps[j]
		b.WriteString(fmt.Sprintf("\n--- %s (%s): %s", n, st.State, st.Result))
		if st.LastError != "" {
			b.WriteString(fmt.Sprintf("\n    error: %s", st.LastError))
		}
		for _, k := range sortedKeys(st.Outputs) {
			b.WriteString(fmt.Sprintf("\n    %s:\n%s", k, st.Outputs[k]))
		}
	}
	return b.String()
}
