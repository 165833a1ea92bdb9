package runbook

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A way back before the point of no return. A step may name its undo steps
// (Step.Undo: re-install a deleted release from its values backup, wait for
// it up); the plan may mark its point of no return (Step.NoReturn: the data
// migration, after which the guide says 不能进行版本回退). An operator who
// aborts a failed step with --rollback before that point gets the undo
// steps of every step done, latest first, each a step of its own in status
// and the Web UI, and the run ends rolled back. After the point, --rollback
// is refused with the guide's warning: by the update's validator, by the
// signal handler (a notice), and once more when the abort is acted on.

// versionRollback marks runs that can roll back. Only a run that took an
// abort with --rollback reaches it, which no run recorded before it did.
const versionRollback = "runbook-rollback"

// noReturnAt is the index of the plan's point of no return, or -1.
func (r *runner) noReturnAt() int {
	for i, s := range r.steps {
		if s.NoReturn != "" && r.status.Steps[i].Undoes == "" {
			return i
		}
	}
	return -1
}

// checkRollback says why the run cannot be rolled back now, or nil.
func (r *runner) checkRollback() error {
	if r.rollingBack {
		return fmt.Errorf("the run is already rolling back; abort (without --rollback) stops the rollback where it is")
	}
	undoable := false
	for _, s := range r.steps {
		if len(s.Undo) > 0 {
			undoable = true
			break
		}
	}
	if !undoable {
		return fmt.Errorf("this guide names no undo steps, so nothing can be rolled back; abort without --rollback")
	}
	k := r.noReturnAt()
	if k < 0 {
		return nil
	}
	for j := k; j < len(r.status.Steps); j++ {
		st := r.status.Steps[j]
		if st.Undoes != "" || st.State == StepPending || st.State == StepNotRunAfterAbort {
			continue
		}
		where := fmt.Sprintf("%s, the point of no return, is %s", st.Name, st.State)
		if j != k {
			where = fmt.Sprintf("%s is %s, past the point of no return (%s)", st.Name, st.State, r.steps[k].Name)
		}
		return fmt.Errorf("cannot roll back: %s; the guide warns: %s. "+
			"Abort without --rollback, and restore from the backups by hand if you must", where, r.steps[k].NoReturn)
	}
	return nil
}

// rollback runs the undo steps of every step done, latest first, after an
// abort with --rollback, and ends the run: rolled back when every undo step
// was done or skipped, aborted when an operator stopped the rollback.
func (r *runner) rollback(ctx workflow.Context, stop *stopError) (RunStatus, error) {
	plain := func(note string) (RunStatus, error) {
		if note != "" {
			r.notice(note)
		}
		stop.rollback = false
		return r.finish(ctx, stop)
	}
	if workflow.GetVersion(ctx, versionRollback, workflow.DefaultVersion, 1) != 1 {
		return plain("")
	}
	if err := r.checkRollback(); err != nil {
		return plain("not rolled back: " + err.Error())
	}
	first := len(r.steps)
	var undone []string
	for i := first - 1; i >= 0; i-- {
		if r.status.Steps[i].State != StepDone || len(r.steps[i].Undo) == 0 {
			continue
		}
		undone = append(undone, r.steps[i].Name)
		for _, u := range r.steps[i].Undo {
			st := newStepStatus(u)
			st.Undoes = r.steps[i].Name
			r.steps = append(r.steps, u)
			r.status.Steps = append(r.status.Steps, st)
		}
	}
	r.reindex()
	r.rollingBack = true
	r.logger.Warn("rolling back", "reason", stop.message, "undoing", strings.Join(undone, ", "), "steps", len(r.steps)-first)
	_ = r.publish(ctx, false)
	for j := first; j < len(r.steps); j++ {
		err := r.runStep(ctx, j)
		if err == nil {
			continue
		}
		// An operator aborted a failed undo step, rejected an undo gate,
		// or the run was cancelled: the rollback stops where it is.
		r.rollingBack = false
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		for k := j; k < len(r.steps); k++ {
			if r.status.Steps[k].State == StepPending {
				r.status.Steps[k].State = StepNotRunAfterAbort
			}
		}
		r.status.State, r.status.CurrentStep = RunAborted, ""
		_ = r.publish(dctx, false)
		r.writeReport(dctx)
		msg := fmt.Sprintf("%s; the rollback then stopped at %s: %v", stop.message, r.steps[j].Name, err)
		r.logger.Warn("rollback stopped", "step", r.steps[j].Name, "error", err)
		if ctx.Err() != nil {
			return r.status, err
		}
		return r.status, temporal.NewNonRetryableApplicationError(msg+"\n"+r.summary(), ErrAborted, nil, r.status)
	}
	r.rollingBack = false
	r.status.State, r.status.CurrentStep = RunRolledBack, ""
	_ = r.publish(ctx, false)
	r.writeReport(ctx)
	msg := fmt.Sprintf("%s, and rolled it back: %d undo steps for %s", stop.message, len(r.steps)-first, strings.Join(undone, ", "))
	if len(undone) == 0 {
		msg = stop.message + ", and rolled it back: no step done had an undo"
	}
	r.logger.Warn("upgrade rolled back", "undone", strings.Join(undone, ", "))
	return r.status, temporal.NewNonRetryableApplicationError(msg+"\n"+r.summary(), ErrRolledBack, nil, r.status)
}
