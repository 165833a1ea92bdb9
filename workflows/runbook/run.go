package runbook

import (
	"errors"
	"fmt"
	"strings"

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
	if err := r.registerHandlers(ctx); err != nil {
		return err
	}

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
