package runbook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// registerHandlers answers the status query and takes approvals and
// decisions as Updates (validated before they reach history) and as Signals
// (recorded as a notice when they cannot apply).
func (r *runner) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (RunStatus, error) {
		return r.status, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryConfig, func() (Input, error) {
		if r.input == nil {
			return nil, errors.New("this run was started without its config (runbook.Run); it takes no corrected config")
		}
		return r.input, nil
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
	return nil
}

// await blocks until a person answers step i (an approval or a decision,
// whichever the step's state asks for). With remindAfter set, it logs a
// reminder and marks the step overdue each time that long passes; when the
// history has grown long and nothing else is in flight, it ends the wait
// with errContinue so the run continues as new.
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
			first := !st.Overdue
			st.Overdue = true
			r.logger.Warn("reminder: a person still has to answer this step", "step", name,
				"state", st.State, "waitingSince", st.StartedAt)
			if first || !r.v1 {
				// Once is enough: the memo says since when, and every
				// upsert is one more event in the history.
				_ = workflow.UpsertMemo(ctx, map[string]any{
					"reminder": fmt.Sprintf("%s has been %s since %s", name, st.State,
						st.StartedAt.UTC().Format(time.RFC3339)),
				})
			}
			if r.shouldContinue(ctx) && r.quiescent(ctx) {
				r.continuing = true
				return pendingAnswer{}, errContinue
			}
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
	who := identityOf(a.By, a.Who)
	if who.Name == "" {
		return errors.New("say who answers (by)")
	}
	if a.Reject && strings.TrimSpace(a.Comment) == "" {
		return errors.New("a rejection needs a comment saying why")
	}
	i := r.index[a.Step]
	if err := r.checkAck(i, a.Ack, a.Reject && r.steps[i].Gate != nil && r.steps[i].Gate.SkipOnReject, "reject"); err != nil {
		return err
	}
	if err := r.checkApprover(i, who, a.Reject); err != nil {
		return err
	}
	if len(a.Config) > 0 {
		if a.Reject {
			return errors.New("a rejection carries no corrected config; approve with it, or reject without it")
		}
		if _, err := r.checkConfig(a.Config); err != nil {
			return err
		}
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
	if identityOf(d.By, d.Who).Name == "" {
		return errors.New("say who decides (by)")
	}
	if d.Rollback {
		if d.Action != ActionAbort {
			return fmt.Errorf("--rollback goes with abort only, not %s", d.Action)
		}
		if err := r.checkRollback(); err != nil {
			return err
		}
	}
	if err := r.checkAck(r.index[d.Step], d.Ack, d.Action == ActionSkip, string(d.Action)); err != nil {
		return err
	}
	if len(d.Config) > 0 {
		if d.Action != ActionRetry {
			return fmt.Errorf("only retry carries a corrected config, not %s", d.Action)
		}
		if _, err := r.checkConfig(d.Config); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) acceptApproval(ctx workflow.Context, a Approval, via string) Answer {
	action := "approve"
	if a.Reject {
		action = "reject"
	}
	ans := r.newAnswer(ctx, action, a.Step, a.By, a.Who, a.Comment, a.Ack, via)
	if len(a.Config) > 0 {
		ans.Config = r.applyConfig(ctx, a.Config, ans, a.Step)
	}
	r.answers[a.Step] = pendingAnswer{answer: ans, reject: a.Reject}
	r.logger.Info("gate answered", "step", a.Step, "action", action, "by", ans.By, "via", via)
	r.record(ctx, ans)
	return ans
}

func (r *runner) acceptDecision(ctx workflow.Context, d Decision, via string) Answer {
	ans := r.newAnswer(ctx, string(d.Action), d.Step, d.By, d.Who, d.Comment, d.Ack, via)
	if len(d.Config) > 0 {
		ans.Config = r.applyConfig(ctx, d.Config, ans, d.Step)
	}
	ans.Rollback = d.Rollback
	r.answers[d.Step] = pendingAnswer{answer: ans, action: d.Action, rollback: d.Rollback}
	r.logger.Info("failed step decided", "step", d.Step, "action", d.Action, "by", ans.By, "via", via)
	r.record(ctx, ans)
	return ans
}

// newAnswer is an answer as the run records it. Runs started before
// answers carried an identity record what they did then.
func (r *runner) newAnswer(ctx workflow.Context, action, step, by string, who *Identity, comment, ack, via string) Answer {
	ans := Answer{Action: action, By: by, Comment: comment, At: workflow.Now(ctx), Via: via}
	if r.v2 {
		id := identityOf(by, who)
		ans.By, ans.Who, ans.Step, ans.Ack = id.Name, &id, step, ack
	}
	return ans
}

// record adds an answer to the run's list of decisions and to the memo:
// who, when, why, which step, in the Web UI without a query.
func (r *runner) record(ctx workflow.Context, ans Answer) {
	if !r.v2 {
		return
	}
	r.status.Decisions = append(r.status.Decisions, ans)
	_ = workflow.UpsertMemo(ctx, map[string]any{"decisions": r.decisionLines()})
}

// decisionLines is the memo's list of decisions, one line each.
func (r *runner) decisionLines() []string {
	lines := make([]string, 0, len(r.status.Decisions))
	for _, a := range r.status.Decisions {
		lines = append(lines, a.String())
	}
	return lines
}

// checkAck refuses to skip a required step (skipping: the answer would
// skip it) unless the answer acknowledges the step's warning by its ID, and
// refuses an acknowledgement that has nothing to acknowledge.
func (r *runner) checkAck(i int, ack string, skipping bool, action string) error {
	s := r.steps[i]
	w := s.Required
	switch {
	case skipping && w != nil && ack != w.ID:
		if ack != "" {
			return fmt.Errorf("step %s is required and --ack %q is not its warning; the guide warns: %s. "+
				"To %s it anyway, acknowledge with --ack %s", s.Name, ack, w.Text, action, w.ID)
		}
		return fmt.Errorf("step %s is required; the guide warns: %s. To %s it anyway, acknowledge the warning "+
			"in the same call with --ack %s", s.Name, w.Text, action, w.ID)
	case ack != "" && (w == nil || !skipping):
		return fmt.Errorf("--ack %s acknowledges nothing here: step %s is not required, or this answer does not skip it", ack, s.Name)
	}
	return nil
}

func (r *runner) notice(msg string) {
	r.logger.Warn(msg)
	r.status.Notices = append(r.status.Notices, msg)
}
