package runbook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Guide names one upgrade guide.
type Guide struct {
	// Name is short and stable; it is part of workflow IDs
	// (upgrade/<name>/<environment>) and of the UpgradeGuide attribute.
	Name string
	// Title is the guide's human title, kept in the memo.
	Title string
}

// WorkflowID is the ID of the one run a guide may have per environment.
func WorkflowID(guide, environment string) string {
	return "upgrade/" + guide + "/" + environment
}

// Error types of a run that ended before its last step; the starter and
// tests branch on them.
const (
	ErrAborted  = "UpgradeAborted"  // an operator chose abort on a failed step
	ErrRejected = "UpgradeRejected" // a person rejected a required gate
	ErrBadPlan  = "InvalidPlan"     // the guide's steps or target are wrong
)

// Run executes a guide's steps as this workflow and returns the final status.
// It never fails because a step failed: it waits for an operator to retry,
// skip or abort. It returns an error only when the run was aborted, a
// required gate was rejected, the plan is invalid, or the workflow was
// cancelled.
func Run(ctx workflow.Context, g Guide, target Target, steps []Step) (RunStatus, error) {
	r := &runner{guide: g, target: target, steps: steps}
	if err := r.setup(ctx); err != nil {
		return r.status, err
	}
	return r.run(ctx)
}

type pendingAnswer struct {
	answer Answer
	reject bool
	action Action
}

type runner struct {
	guide   Guide
	target  Target
	steps   []Step
	index   map[string]int
	status  RunStatus
	answers map[string]pendingAnswer
	logger  log.Logger

	lastState RunState
	lastStep  string
}

func (r *runner) setup(ctx workflow.Context) error {
	r.status = RunStatus{Guide: r.guide.Name, Title: r.guide.Title, Target: r.target, State: RunRunning}
	r.logger = log.With(workflow.GetLogger(ctx), "guide", r.guide.Name, "environment", r.target.Environment)
	if err := ValidatePlan(r.steps); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrBadPlan, nil)
	}
	if r.target.Environment == "" {
		return temporal.NewNonRetryableApplicationError("the target has no environment name", ErrBadPlan, nil)
	}
	r.index = make(map[string]int, len(r.steps))
	r.answers = map[string]pendingAnswer{}
	for i, s := range r.steps {
		r.index[s.Name] = i
		st := StepStatus{Name: s.Name, Kind: s.Kind, Summary: s.Summary, State: StepPending}
		if s.Gate != nil {
			st.Prompt = s.Gate.Prompt
		}
		r.status.Steps = append(r.status.Steps, st)
	}

	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (RunStatus, error) {
		return r.status, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove,
		func(ctx workflow.Context, a Approval) (Answer, error) {
			if err := r.checkApproval(a); err != nil {
				return Answer{}, err
			}
			return r.acceptApproval(ctx, a, "update"), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, a Approval) error {
			return r.checkApproval(a)
		}},
	); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide,
		func(ctx workflow.Context, d Decision) (Answer, error) {
			if err := r.checkDecision(d); err != nil {
				return Answer{}, err
			}
			return r.acceptDecision(ctx, d, "update"), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, d Decision) error {
			return r.checkDecision(d)
		}},
	); err != nil {
		return err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalApprove)
		for {
			var a Approval
			ch.Receive(ctx, &a)
			if err := r.checkApproval(a); err != nil {
				r.notice(fmt.Sprintf("ignored approve signal from %q: %v", a.By, err))
				continue
			}
			r.acceptApproval(ctx, a, "signal")
		}
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalDecide)
		for {
			var d Decision
			ch.Receive(ctx, &d)
			if err := r.checkDecision(d); err != nil {
				r.notice(fmt.Sprintf("ignored decide signal from %q: %v", d.By, err))
				continue
			}
			r.acceptDecision(ctx, d, "signal")
		}
	})

	if err := workflow.UpsertMemo(ctx, map[string]any{"title": r.guide.Title}); err != nil {
		return err
	}
	return r.publish(ctx, true)
}

func (r *runner) run(ctx workflow.Context) (RunStatus, error) {
	r.logger.Info("upgrade started", "from", r.target.From, "to", r.target.To, "steps", len(r.steps))
	for start := 0; start < len(r.steps); {
		end := start + 1
		if g := r.steps[start].Parallel; g != "" {
			for end < len(r.steps) && r.steps[end].Parallel == g {
				end++
			}
		}
		var err error
		if end-start == 1 {
			err = r.runStep(ctx, start)
		} else {
			err = r.runGroup(ctx, start, end)
		}
		if err != nil {
			return r.finish(ctx, err)
		}
		start = end
	}
	r.status.State = RunCompleted
	r.status.CurrentStep = ""
	_ = r.publish(ctx, false)
	r.logger.Info("upgrade completed")
	return r.status, nil
}

// runGroup runs steps [start, end) side by side. The first abort or
// rejection cancels the others.
func (r *runner) runGroup(ctx workflow.Context, start, end int) error {
	gctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var first error
	pending := end - start
	for i := start; i < end; i++ {
		workflow.Go(gctx, func(c workflow.Context) {
			if err := r.runStep(c, i); err != nil && first == nil {
				first = err
				cancel()
			}
			pending--
		})
	}
	if err := workflow.Await(ctx, func() bool { return pending == 0 }); err != nil {
		return err
	}
	return first
}

type stopError struct {
	kind    string // ErrAborted or ErrRejected
	message string
}

func (e *stopError) Error() string { return e.message }

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

// await blocks until a person answers step i (an approval or a decision,
// whichever the step's state asks for). With remindAfter set, it logs a
// reminder and marks the step overdue each time that long passes.
func (r *runner) await(ctx workflow.Context, i int, remindAfter time.Duration) (pendingAnswer, error) {
	name := r.steps[i].Name
	answered := func() bool { _, ok := r.answers[name]; return ok }
	if remindAfter <= 0 {
		if err := workflow.Await(ctx, answered); err != nil {
			return pendingAnswer{}, err
		}
	} else {
		for {
			ok, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
				Timeout:      remindAfter,
				TimerOptions: workflow.TimerOptions{Summary: "remind/" + name},
			}, answered)
			if err != nil {
				return pendingAnswer{}, err
			}
			if ok {
				break
			}
			st := &r.status.Steps[i]
			st.Overdue = true
			r.logger.Warn("reminder: a person still has to answer this step", "step", name,
				"state", st.State, "waitingSince", st.StartedAt)
			_ = workflow.UpsertMemo(ctx, map[string]any{
				"reminder": fmt.Sprintf("%s has been %s since %s", name, st.State,
					st.StartedAt.UTC().Format(time.RFC3339)),
			})
		}
	}
	ans := r.answers[name]
	delete(r.answers, name)
	r.status.Steps[i].Overdue = false
	return ans, nil
}

func (r *runner) lookup(name string) (*StepStatus, error) {
	i, ok := r.index[name]
	if !ok {
		return nil, fmt.Errorf("unknown step %q; steps waiting for a person now: %s", name, r.waitingNames())
	}
	return &r.status.Steps[i], nil
}

func (r *runner) waitingNames() string {
	var names []string
	for _, st := range r.status.Waiting() {
		names = append(names, st.Name+" ("+string(st.State)+")")
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func (r *runner) checkApproval(a Approval) error {
	st, err := r.lookup(a.Step)
	if err != nil {
		return err
	}
	if st.State != StepWaitingApproval {
		return fmt.Errorf("step %q is %s, not waiting for approval; steps waiting for a person now: %s",
			a.Step, st.State, r.waitingNames())
	}
	if _, dup := r.answers[a.Step]; dup {
		return fmt.Errorf("step %q has already been answered", a.Step)
	}
	if strings.TrimSpace(a.By) == "" {
		return errors.New("say who answers (by)")
	}
	if a.Reject && strings.TrimSpace(a.Comment) == "" {
		return errors.New("a rejection needs a comment saying why")
	}
	return nil
}

func (r *runner) checkDecision(d Decision) error {
	st, err := r.lookup(d.Step)
	if err != nil {
		return err
	}
	if st.State != StepFailedAwaiting {
		return fmt.Errorf("step %q is %s, not failed and waiting for a decision; steps waiting for a person now: %s",
			d.Step, st.State, r.waitingNames())
	}
	if _, dup := r.answers[d.Step]; dup {
		return fmt.Errorf("step %q has already been answered", d.Step)
	}
	switch d.Action {
	case ActionRetry:
	case ActionSkip, ActionAbort:
		if strings.TrimSpace(d.Comment) == "" {
			return fmt.Errorf("%s needs a comment saying why", d.Action)
		}
	default:
		return fmt.Errorf("unknown action %q: use retry, skip or abort", d.Action)
	}
	if strings.TrimSpace(d.By) == "" {
		return errors.New("say who decides (by)")
	}
	return nil
}

func (r *runner) acceptApproval(ctx workflow.Context, a Approval, via string) Answer {
	action := "approve"
	if a.Reject {
		action = "reject"
	}
	ans := Answer{Action: action, By: a.By, Comment: a.Comment, At: workflow.Now(ctx), Via: via}
	r.answers[a.Step] = pendingAnswer{answer: ans, reject: a.Reject}
	r.logger.Info("gate answered", "step", a.Step, "action", action, "by", a.By, "via", via)
	return ans
}

func (r *runner) acceptDecision(ctx workflow.Context, d Decision, via string) Answer {
	ans := Answer{Action: string(d.Action), By: d.By, Comment: d.Comment, At: workflow.Now(ctx), Via: via}
	r.answers[d.Step] = pendingAnswer{answer: ans, action: d.Action}
	r.logger.Info("failed step decided", "step", d.Step, "action", d.Action, "by", d.By, "via", via)
	return ans
}

func (r *runner) notice(msg string) {
	r.logger.Warn(msg)
	r.status.Notices = append(r.status.Notices, msg)
}

// setState moves a step and republishes the run's state when it changed.
func (r *runner) setState(ctx workflow.Context, i int, s StepState) {
	st := &r.status.Steps[i]
	now := workflow.Now(ctx)
	switch s {
	case StepWaitingApproval, StepRunning:
		if st.StartedAt.IsZero() {
			st.StartedAt = now
		}
	case StepDone, StepSkipped, StepRejected, StepAborted:
		st.EndedAt = now
	}
	st.State = s
	_ = r.publish(ctx, false)
}

// publish recomputes the run's state and current step and, when they moved,
// upserts the search attributes and the Web UI's current details.
func (r *runner) publish(ctx workflow.Context, initial bool) error {
	state, current := r.status.State, ""
	if state != RunCompleted && state != RunAborted && state != RunRejected {
		state = RunRunning
		for _, st := range r.status.Steps {
			switch st.State {
			case StepFailedAwaiting:
				state, current = RunFailedAwaiting, st.Name
			case StepWaitingApproval:
				if state != RunFailedAwaiting {
					state, current = RunWaitingApproval, st.Name
				}
			case StepRunning:
				if current == "" {
					current = st.Name
				}
			}
			if state == RunFailedAwaiting {
				break
			}
		}
	}
	r.status.State, r.status.CurrentStep = state, current
	if !initial && state == r.lastState && current == r.lastStep {
		return nil
	}
	r.lastState, r.lastStep = state, current
	updates := []temporal.SearchAttributeUpdate{
		AttrState.ValueSet(string(state)),
		AttrStep.ValueSet(current),
	}
	if initial {
		updates = append(updates,
			AttrGuide.ValueSet(r.guide.Name),
			AttrEnvironment.ValueSet(r.target.Environment),
			AttrFrom.ValueSet(r.target.From),
			AttrTo.ValueSet(r.target.To))
	}
	workflow.SetCurrentDetails(ctx, r.details())
	return workflow.UpsertTypedSearchAttributes(ctx, updates...)
}

// details renders the run for the Web UI's "current details" panel.
func (r *runner) details() string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** (%s → %s, %s): %s\n\n", r.guide.Title, r.target.From, r.target.To,
		r.target.Environment, r.status.State))
	done := 0
	for _, st := range r.status.Steps {
		if st.State == StepDone || st.State == StepSkipped {
			done++
		}
	}
	b.WriteString(fmt.Sprintf("%d of %d steps finished.\n", done, len(r.status.Steps)))
	for _, st := range r.status.Waiting() {
		switch st.State {
		case StepWaitingApproval:
			b.WriteString(fmt.Sprintf("\n* `%s` waits for approval: %s\n", st.Name, st.Prompt))
		case StepFailedAwaiting:
			b.WriteString(fmt.Sprintf("\n* `%s` failed: %s. Decide: retry, skip or abort.\n", st.Name, st.LastError))
		}
	}
	return b.String()
}

// interrupted records a step cut short by cancellation.
func (r *runner) interrupted(ctx workflow.Context, i int, err error) error {
	st := &r.status.Steps[i]
	if st.State == StepRunning || st.State == StepWaitingApproval || st.State == StepFailedAwaiting {
		r.setState(ctx, i, StepAborted)
	}
	return err
}

// finish ends a run that stopped early: steps that never ran are marked,
// the state is published, and the error says what happened.
func (r *runner) finish(ctx workflow.Context, err error) (RunStatus, error) {
	for i := range r.status.Steps {
		if r.status.Steps[i].State == StepPending {
			r.status.Steps[i].State = StepNotRunAfterAbort
		}
	}
	var stop *stopError
	if errors.As(err, &stop) {
		r.status.State = RunAborted
		if stop.kind == ErrRejected {
			r.status.State = RunRejected
		}
		r.status.CurrentStep = ""
		_ = r.publish(ctx, false)
		r.logger.Warn("upgrade stopped", "reason", stop.message)
		return r.status, temporal.NewNonRetryableApplicationError(stop.message+"\n"+r.summary(), stop.kind, nil, r.status)
	}
	// Cancellation: leave the last published state, report the cause.
	r.status.State = RunAborted
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = r.publish(dctx, false)
	return r.status, err
}

// summary lists what was done, skipped and not run, for an aborted run.
func (r *runner) summary() string {
	var b strings.Builder
	b.WriteString("steps:")
	for _, st := range r.status.Steps {
		b.WriteString(fmt.Sprintf("\n  %-28s %s", st.State, st.Name))
	}
	return b.String()
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
