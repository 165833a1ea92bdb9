package runbook

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

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
	prev := st.State
	st.State = s
	r.observeStep(ctx, st, prev, s)
	r.notifyStep(ctx, st, prev, s)
	_ = r.publish(ctx, false)
}

// publish recomputes the run's state and current step and, when they moved,
// upserts the search attributes and the Web UI's current details.
func (r *runner) publish(ctx workflow.Context, initial bool) error {
	state, current := r.status.State, ""
	if state != RunCompleted && state != RunAborted && state != RunRejected && state != RunRolledBack {
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
				// An expanded step stands for its placeholder.
				if current == "" || current == st.Parent {
					current = st.Name
				}
			}
			if state == RunFailedAwaiting {
				break
			}
		}
		if r.rollingBack && state == RunRunning {
			state = RunRollingBack
		}
	}
	r.status.State, r.status.CurrentStep = state, current
	if !initial && state == r.lastState && current == r.lastStep {
		return nil
	}
	r.observeRun(ctx, r.lastState, state)
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
	workflow.SetCurrentDetails(ctx, r.details(workflow.GetInfo(ctx).WorkflowExecution.ID))
	return workflow.UpsertTypedSearchAttributes(ctx, updates...)
}

// details renders the run for the Web UI's "current details" panel: where
// the run is and, for each step waiting for a person, what they must do
// next, with the command that does it (id is the run's workflow ID).
func (r *runner) details(id string) string {
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
	for i, st := range r.status.Steps {
		if st.State != StepRunning || i >= len(r.steps) || r.steps[i].Expand == nil {
			continue
		}
		n, finished := 0, 0
		for _, c := range r.status.Steps[i+1:] {
			if c.Parent != st.Name {
				break
			}
			n++
			if c.State == StepDone || c.State == StepSkipped {
				finished++
			}
		}
		b.WriteString(fmt.Sprintf("\n* `%s`: %d of %d steps (one per item of %s) finished\n", st.Name, finished, n,
			r.steps[i].Expand.From))
	}
	for _, st := range r.status.Waiting() {
		name := st.Name
		if st.Section != "" {
			name = "§" + st.Section + " `" + st.Name + "`"
		} else {
			name = "`" + name + "`"
		}
		switch st.State {
		case StepWaitingApproval:
			b.WriteString(fmt.Sprintf("\n* %s waits for approval: %s\n", name, st.Prompt))
			if i, ok := r.index[st.Name]; ok && i < len(r.steps) {
				if who, key := approversOf(r.target.Approvers, r.steps[i], st.Parent); len(who) > 0 {
					b.WriteString(fmt.Sprintf("  Who may answer (%s): %s.\n", key, strings.Join(who, ", ")))
				}
				if g := r.steps[i].Gate; g != nil && g.Destructive && r.target.StartedBy != nil &&
					(r.target.Approvers == nil || !r.target.Approvers.AllowSelfApproval) {
					b.WriteString(fmt.Sprintf("  Destructive: someone other than %s, who started the run, approves.\n",
						r.target.StartedBy.Name))
				}
			}
			b.WriteString(fmt.Sprintf("  Approve: `starter approve %s %s --comment \"…\"`; "+
				"reject: add `--reject` (a comment is required).\n", id, st.Name))
		case StepFailedAwaiting:
			b.WriteString(fmt.Sprintf("\n* %s failed: %s\n  Decide: `starter decide %s %s retry` "+
				"(after fixing the cause; `--config FILE` for a corrected config), `skip --comment \"…\"` or "+
				"`abort --comment \"…\"`.\n", name, st.LastError, id, st.Name))
		}
	}
	return b.String()
}
