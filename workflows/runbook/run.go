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
	// Map is the guide's sections in the guide's order: each is carried out
	// by the steps that name it (Step.Section), or says why a person does it
	// (Manual) or why nothing does it (NotAutomated). Tests check that every
	// step names a section and every section is accounted for.
	Map []Section
	// PlanRevision is the newest revision of the guide's plan. A change to
	// the plan that a run in flight would not replay (a step added, renamed
	// or given another activity before steps that have run) raises it, and
	// the guide's Plan keeps the old steps for Target.PlanRevision below it: a run
	// fixes its revision when it starts (workflow.GetVersion "plan"), so a
	// run waiting at a gate for days goes on with its own plan on a worker
	// that has the newer one. Zero: the plan has never been revised.
	PlanRevision int
}

// OriginalPlan is Target.PlanRevision of a run that started before its
// guide's first plan revision (workflow.DefaultVersion).
const OriginalPlan = int(workflow.DefaultVersion)

// PlanVersionID is the change ID under which a run records its plan's
// revision (workflow.GetVersion).
const PlanVersionID = "plan"

// fixPlan sets the run's plan revision when it starts: the guide's newest
// for a new run, -1 (workflow.DefaultVersion) when replaying a run that
// started before the guide's plan had revisions. A run that continued as
// new, or a corrected config, carries it already.
func fixPlan(ctx workflow.Context, g Guide, t *Target) {
	if g.PlanRevision > 0 && t.PlanRevision == 0 {
		t.PlanRevision = int(workflow.GetVersion(ctx, PlanVersionID, workflow.DefaultVersion, workflow.Version(g.PlanRevision)))
	}
}

// Section is one part of the vendor's guide as the guide numbers it.
type Section struct {
	// ID is the guide's own numbering ("7.6") or, where the guide has
	// none, a short stable id in the guide's order ("s03").
	ID string
	// Title is a short title in our words ("JOB upgrade").
	Title string
	// Heading is the guide's heading text verbatim, where it has one; the
	// seed-text test finds every heading of the guide among these.
	Heading string
	// Manual says why a person carries this section out (a gate or signal
	// step names it too).
	Manual string
	// NotAutomated says why no step carries it out (reading release notes).
	NotAutomated string
	// Anywhere, when set, says why the steps carrying this section out run
	// where the plan needs them rather than in the map's order: a caution
	// the guide gives up front that applies at a later step. Empty: its
	// steps follow the map's order (CheckMap).
	Anywhere string
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
	// ErrRolledBack: an operator aborted with --rollback and every undo
	// step ran (or was skipped by an operator): the run ended rolled back.
	ErrRolledBack = "UpgradeRolledBack"
)

// Input is a guide's decoded config, the argument of its workflow: it
// validates itself as a whole, plans the guide's steps, and names its target.
type Input interface {
	// Validate reports every problem of the config at once, by key.
	Validate() error
	// Plan lists the steps the workflow runs for this config.
	Plan() ([]Step, error)
	// GetTarget says which environment and versions the run is about; the
	// runbook also carries a run's progress in it across continue-as-new.
	GetTarget() *Target
}

// Options are what RunInput needs beyond the guide and its input.
type Options struct {
	// NewInput returns an empty input of the guide's type. A corrected
	// config sent with `decide … retry` or `approve` (the input as JSON) is
	// decoded into it, validated and planned as at start. Nil: the run
	// refuses corrected configs.
	NewInput func() Input
	// HistoryLimit is how many events a run's history may hold before the
	// run continues as new at its next safe point (between steps, or while
	// every step waits for a person), carrying its progress. Zero:
	// DefaultHistoryLimit.
	HistoryLimit int
}

// DefaultHistoryLimit keeps each run's history small: a gate reminding every
// five minutes for a week would otherwise add about ten thousand events.
const DefaultHistoryLimit = 1000

// Run executes a guide's steps as this workflow and returns the final status.
// It never fails because a step failed: it waits for an operator to retry,
// skip or abort. It returns an error only when the run was aborted, a
// required gate was rejected, the plan is invalid, or the workflow was
// cancelled. A run started this way knows only its steps, not its config:
// it takes no corrected config and never continues as new; RunInput does.
func Run(ctx workflow.Context, g Guide, target Target, steps []Step) (RunStatus, error) {
	r := &runner{guide: g, target: target, plan: steps}
	if err := r.setup(ctx, nil); err != nil {
		return r.status, err
	}
	return r.run(ctx)
}

// RunInput runs the steps a guide's input plans, as Run does, and also: it
// takes a corrected config with retry or approve (o.NewInput), and it
// continues as new when its history grows long (a gate waiting for days),
// carrying its progress in the input's Target.
func RunInput(ctx workflow.Context, g Guide, in Input, o Options) (RunStatus, error) {
	t := in.GetTarget()
	resume := t.Resume
	t.Resume = nil
	fixPlan(ctx, g, t)
	r := &runner{guide: g, target: *t, input: in, opts: o}
	if err := in.Validate(); err != nil {
		return RunStatus{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrBadPlan, nil)
	}
	steps, err := in.Plan()
	if err == nil {
		err = CheckConfig(*t, steps)
	}
	if err != nil {
		return RunStatus{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrBadPlan, nil)
	}
	r.plan = steps
	if err := r.setup(ctx, resume); err != nil {
		return r.status, err
	}
	return r.run(ctx)
}

type pendingAnswer struct {
	answer   Answer
	reject   bool
	action   Action
	rollback bool
}

type runner struct {
	guide  Guide
	target Target
	input  Input // nil when started by Run
	opts   Options
	// plan is the guide's steps as planned; steps is what runs: the plan
	// with each expansion's steps inserted after its placeholder, and
	// status.Steps matches it one for one.
	plan    []Step
	steps   []Step
	index   map[string]int
	status  RunStatus
	answers map[string]pendingAnswer
	// phase says where a step that waits for a person goes on, so a run
	// that continued as new resumes it there.
	phase  map[string]string
	logger log.Logger

	// v1 is true for runs started by this version of the runbook: they
	// look up Temporal's attempts and remind without a memo per tick.
	v1 bool
	// v2: the run records every answer with its identity (versionDecisions).
	v2 bool
	// continuing is set once the run decided to continue as new: steps cut
	// short by it keep their state.
	continuing bool
	// rollingBack is set while the undo steps of an abort with --rollback
	// run (rollback.go); the run does not continue as new then.
	rollingBack bool

	lastState RunState
	lastStep  string
}

func (r *runner) run(ctx workflow.Context) (RunStatus, error) {
	r.logger.Info("upgrade started", "from", r.target.From, "to", r.target.To, "steps", len(r.steps),
		"continued", r.status.Continued)
	for start := 0; start < len(r.steps); {
		if r.shouldContinue(ctx) && r.quiescent(ctx) {
			return r.continueAsNew(ctx)
		}
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
	r.writeReport(ctx)
	r.logger.Info("upgrade completed")
	return r.status, nil
}

// runGroup runs steps [start, end) side by side. The first abort or
// rejection cancels the others.
func (r *runner) runGroup(ctx workflow.Context, start, end int) error {
	if r.hasLanes(start, end) {
		return r.runLanes(ctx, start, end)
	}
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
	// rollback: the abort asks for the undo steps to run (rollback.go).
	rollback bool
}

func (e *stopError) Error() string { return e.message }

// finish ends a run that stopped early: steps that never ran are marked,
// the state is published, and the error says what happened.
func (r *runner) finish(ctx workflow.Context, err error) (RunStatus, error) {
	if r.continuing {
		return r.continueAsNew(ctx)
	}
	for i := range r.status.Steps {
		if r.status.Steps[i].State == StepPending {
			r.status.Steps[i].State = StepNotRunAfterAbort
		}
	}
	var stop *stopError
	if errors.As(err, &stop) && stop.rollback && stop.kind == ErrAborted {
		return r.rollback(ctx, stop)
	}
	if errors.As(err, &stop) {
		r.status.State = RunAborted
		if stop.kind == ErrRejected {
			r.status.State = RunRejected
		}
		r.status.CurrentStep = ""
		_ = r.publish(ctx, false)
		r.writeReport(ctx)
		r.logger.Warn("upgrade stopped", "reason", stop.message)
		return r.status, temporal.NewNonRetryableApplicationError(stop.message+"\n"+r.summary(), stop.kind, nil, r.status)
	}
	// Cancellation: leave the last published state, report the cause.
	r.status.State = RunAborted
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = r.publish(dctx, false)
	r.writeReport(dctx)
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
