package runbook

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A run whose history grows long (a gate waiting over a weekend, reminding
// every few minutes) continues as new: the same workflow ID, a fresh
// history, and its progress — every step's state, tries, answers and
// outputs — carried in the input's Target.Resume. It does so only at a safe
// point: between steps, or while every step that is not done waits for a
// person, with no answer or signal still to be taken.

// Where a step waiting for a person goes on once answered.
const (
	phaseRequires = "requires" // re-check the steps it requires
	phaseGate     = "gate"     // wait at its gate
	phaseInputs   = "inputs"   // re-read the outputs it takes
	phaseActivity = "activity" // run its activity again
	phaseExpand   = "expand"   // re-read the list it expands
	phaseStarted  = "started"  // past its checks and gate
)

// errContinue cuts a waiting step short because the run continues as new.
var errContinue = errors.New("the run continues as new to keep its history short")

// versionChange marks runs started by this runbook version: they look up
// Temporal's attempts after a try and write the reminder memo once.
const versionChange = "runbook-attempts-outputs"

// versionDecisions marks runs that record every answer with its identity,
// step and acknowledgement, in status and in the memo (one memo upsert per
// answer).
const versionDecisions = "runbook-decisions-identity"

func (r *runner) setup(ctx workflow.Context, resume *Resume) error {
	r.status = RunStatus{Guide: r.guide.Name, Title: r.guide.Title, Target: r.target, State: RunRunning}
	r.logger = log.With(workflow.GetLogger(ctx), "guide", r.guide.Name, "environment", r.target.Environment)
	r.v1 = workflow.GetVersion(ctx, versionChange, workflow.DefaultVersion, 1) == 1
	r.v2 = workflow.GetVersion(ctx, versionDecisions, workflow.DefaultVersion, 1) == 1
	r.status.StartedBy = r.target.StartedBy
	if err := ValidatePlan(r.plan); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrBadPlan, nil)
	}
	if r.target.Environment == "" {
		return temporal.NewNonRetryableApplicationError("the target has no environment name", ErrBadPlan, nil)
	}
	r.answers = map[string]pendingAnswer{}
	r.phase = map[string]string{}
	if resume != nil {
		if err := r.restore(*resume); err != nil {
			return temporal.NewNonRetryableApplicationError(
				"unable to continue the run where it was: "+err.Error(), ErrBadPlan, nil)
		}
	} else {
		r.steps = append([]Step(nil), r.plan...)
		for _, s := range r.steps {
			r.status.Steps = append(r.status.Steps, newStepStatus(s))
		}
	}
	r.reindex()
	if err := r.registerHandlers(ctx); err != nil {
		return err
	}
	memo := map[string]any{"title": r.guide.Title}
	if r.target.StartedBy != nil {
		memo["startedBy"] = r.target.StartedBy.String()
	}
	if len(r.status.Decisions) > 0 {
		memo["decisions"] = r.decisionLines()
	}
	if err := workflow.UpsertMemo(ctx, memo); err != nil {
		return err
	}
	return r.publish(ctx, true)
}

func newStepStatus(s Step) StepStatus {
	st := StepStatus{Name: s.Name, Kind: s.Kind, Summary: s.Summary, Section: s.Section, Required: s.Required, State: StepPending}
	if s.Gate != nil {
		st.Prompt = s.Gate.Prompt
		st.Destructive = s.Gate.Destructive
	}
	for _, u := range s.Undo {
		st.Undo = append(st.Undo, u.Name)
	}
	st.NoReturn = s.NoReturn
	return st
}

func (r *runner) reindex() {
	r.index = make(map[string]int, len(r.steps))
	for i, s := range r.steps {
		r.index[s.Name] = i
	}
}

// restore takes the progress a run carried into this one and rebuilds the
// steps it ran: the plan, with each expansion's steps built again from the
// items they were built for.
func (r *runner) restore(res Resume) error {
	carried := res.Status
	r.status.Steps = carried.Steps
	r.status.Notices = carried.Notices
	r.status.ConfigChanges = carried.ConfigChanges
	r.status.Continued = carried.Continued
	r.status.Decisions = carried.Decisions
	// Copies a map; order does not matter.
	//workflowcheck:ignore
	for k, v := range res.Phase {
		r.phase[k] = v
	}
	// Copies a map; order does not matter.
	//workflowcheck:ignore
	for k, a := range res.Answers {
		r.answers[k] = pendingAnswer{answer: a.Answer, reject: a.Reject, action: a.Action, rollback: a.Rollback}
	}
	byName := map[string]Step{}
	for _, s := range r.plan {
		byName[s.Name] = s
	}
	p := 0
	r.steps = nil
	for _, st := range carried.Steps {
		if st.Parent == "" {
			if p >= len(r.plan) || r.plan[p].Name != st.Name {
				return fmt.Errorf("step %s was carried over but the plan has %s there", st.Name, planName(r.plan, p))
			}
			r.steps = append(r.steps, r.plan[p])
			p++
			continue
		}
		parent, ok := byName[st.Parent]
		if !ok || parent.Expand == nil || parent.Expand.Build == nil {
			return fmt.Errorf("step %s was expanded from %s, which the plan no longer expands", st.Name, st.Parent)
		}
		child := parent.Expand.Build(st.Item)
		if child.Name != st.Name {
			return fmt.Errorf("item %q of %s now builds step %s, not %s", st.Item, st.Parent, child.Name, st.Name)
		}
		child.Parallel = ""
		r.steps = append(r.steps, child)
	}
	if p != len(r.plan) {
		return fmt.Errorf("the plan has %d steps, %d were carried over", len(r.plan), p)
	}
	return nil
}

func planName(plan []Step, i int) string {
	if i < len(plan) {
		return plan[i].Name
	}
	return "no step"
}

// shouldContinue says whether the history is long enough to continue as
// new; only a run that holds its input can.
func (r *runner) shouldContinue(ctx workflow.Context) bool {
	if r.input == nil || r.continuing || r.rollingBack {
		return false
	}
	limit := r.opts.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	info := workflow.GetInfo(ctx)
	return info.GetCurrentHistoryLength() >= limit || info.GetContinueAsNewSuggested()
}

// quiescent says whether nothing is in flight: no activity runs, and every
// answer and signal received has been taken by the step it was for.
func (r *runner) quiescent(ctx workflow.Context) bool {
	for i, st := range r.status.Steps {
		if st.State == StepRunning && r.steps[i].Expand == nil {
			return false
		}
	}
	if len(r.answers) > 0 {
		return false
	}
	for _, name := range []string{SignalApprove, SignalDecide} {
		if workflow.GetSignalChannel(ctx, name).Len() > 0 {
			return false
		}
	}
	return true
}

// continueAsNew ends this run and starts the next with the same input (a
// corrected config included) and the progress so far.
func (r *runner) continueAsNew(ctx workflow.Context) (RunStatus, error) {
	r.continuing = true
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
	carried := r.status
	carried.Continued++
	phase := map[string]string{}
	for _, st := range r.status.Steps {
		if p, ok := r.phase[st.Name]; ok && (st.State == StepWaitingApproval || st.State == StepFailedAwaiting) {
			phase[st.Name] = p
		}
	}
	// An Update taken while the run was deciding to continue is carried,
	// so the step it answers finds it in the next run.
	var answers map[string]CarriedAnswer
	for _, st := range r.status.Steps {
		if a, ok := r.answers[st.Name]; ok {
			if answers == nil {
				answers = map[string]CarriedAnswer{}
			}
			answers[st.Name] = CarriedAnswer{Answer: a.answer, Reject: a.reject, Action: a.action, Rollback: a.rollback}
		}
	}
	info := workflow.GetInfo(dctx)
	r.logger.Info("continuing as new to keep the history short", "events", info.GetCurrentHistoryLength(),
		"continued", carried.Continued)
	r.input.GetTarget().Resume = &Resume{Status: carried, Phase: phase, Answers: answers}
	err := workflow.NewContinueAsNewError(dctx, info.WorkflowType.Name, r.input)
	r.input.GetTarget().Resume = nil
	return r.status, err
}
