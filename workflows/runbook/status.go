package runbook

import (
	"encoding/json"
	"upgrader/internal/contract"

	"time"

	"go.temporal.io/sdk/temporal"
)

// Names of the handlers every guide workflow registers. The starter and
// plain `temporal workflow …` users call them by these names.
const (
	// QueryStatus returns a RunStatus.
	QueryStatus = "status"
	// QueryConfig returns the config the run uses now (the guide's input,
	// corrected configs applied), for `starter decide … --config` to diff.
	QueryConfig = "config"
	// UpdateApprove takes an Approval for a step waiting at its gate; it is
	// validated before it is accepted into history.
	UpdateApprove = "approve"
	// UpdateDecide takes a Decision for a step that failed.
	UpdateDecide = "decide"
	// SignalApprove and SignalDecide carry the same payloads for callers
	// that can only signal; an invalid signal is logged and recorded as a
	// notice instead of being rejected.
	SignalApprove = "approve"
	SignalDecide  = "decide"
)

// Typed search attributes upserted by every guide so runs can be filtered in
// the Web UI (`UpgradeState = "waiting-approval"`). They must be registered
// on the namespace; the dev server started by the starter does so.
var (
	AttrGuide       = temporal.NewSearchAttributeKeyKeyword("UpgradeGuide")
	AttrFrom        = temporal.NewSearchAttributeKeyKeyword("UpgradeFrom")
	AttrTo          = temporal.NewSearchAttributeKeyKeyword("UpgradeTo")
	AttrEnvironment = temporal.NewSearchAttributeKeyKeyword("UpgradeEnvironment")
	AttrStep        = temporal.NewSearchAttributeKeyKeyword("UpgradeStep")
	AttrState       = temporal.NewSearchAttributeKeyKeyword("UpgradeState")
)

// SearchAttributeKeys lists every key above, for registering them.
func SearchAttributeKeys() []temporal.SearchAttributeKeyKeyword {
	return []temporal.SearchAttributeKeyKeyword{AttrGuide, AttrFrom, AttrTo, AttrEnvironment, AttrStep, AttrState}
}

// StepState is where one step is.
type StepState string

// Step states, in the order a step usually passes through them.
const (
	StepPending          StepState = "pending"
	StepWaitingApproval  StepState = "waiting-approval"
	StepRunning          StepState = "running"
	StepFailedAwaiting   StepState = "failed-awaiting-decision"
	StepDone             StepState = "done"
	StepSkipped          StepState = "skipped"
	StepRejected         StepState = "rejected"
	StepAborted          StepState = "aborted"
	StepNotRunAfterAbort StepState = "not-run"
)

// RunState is where the whole run is; it is also the UpgradeState attribute.
type RunState string

// Run states.
const (
	RunRunning         RunState = "running"
	RunWaitingApproval RunState = "waiting-approval"
	RunFailedAwaiting  RunState = "failed-awaiting-decision"
	RunCompleted       RunState = "completed"
	RunAborted         RunState = "aborted"
	RunRejected        RunState = "rejected"
	// RunRollingBack: an operator aborted with --rollback and the undo
	// steps run; RunRolledBack: they all ran, the site is as before the run.
	RunRollingBack RunState = "rolling-back"
	RunRolledBack  RunState = "rolled-back"
)

// Target names what is being upgraded; every guide's input embeds it.
type Target struct {
	// Environment is the operator's name for the site (`prod`, `lab`); one
	// run per guide and environment at a time.
	Environment string `json:"environment" yaml:"environment" mapstructure:"environment"`
	// From and To are the product versions the guide moves between.
	From string `json:"from" yaml:"from" mapstructure:"from"`
	To   string `json:"to" yaml:"to" mapstructure:"to"`
	// Approvers, when set, says who may answer the run's gates; see
	// Approvers. It cannot change within a run.
	Approvers *Approvers `json:"approvers,omitempty" yaml:"approvers" mapstructure:"approvers"`
	// Sites, when set, sends each step's activity to the task queue of the
	// site (network zone) it acts in; see Site. Empty: every step runs on
	// the run's own task queue.
	Sites map[string]Site `json:"sites,omitempty" yaml:"sites" mapstructure:"sites"`
	// StartedBy is who started the run, as the starter found it (its mTLS
	// certificate, or the OS user, unverified); configs never set it.
	StartedBy *Identity `json:"startedBy,omitempty" yaml:"-" mapstructure:"-"`
	// Webhooks says whether the worker has webhooks to post to (its
	// config's notify: list, as the starter read it); false schedules no
	// notification at gates. Nil (runs started before it was set) notifies
	// as those runs did. Configs never set it.
	Webhooks *bool `json:"webhooks,omitempty" yaml:"-" mapstructure:"-"`
	// Resume carries a run's progress into the run it continues as; guides
	// and configs never set it.
	Resume *Resume `json:"resume,omitempty" yaml:"-" mapstructure:"-"`
}

// Resume is a run's progress, carried across continue-as-new.
type Resume struct {
	Status RunStatus `json:"status"`
	// Phase says, for each step waiting for a person, where it goes on.
	Phase map[string]string `json:"phase,omitempty"`
	// Answers holds answers taken but not yet acted on, by step: one that
	// came in while the run was continuing as new.
	Answers map[string]CarriedAnswer `json:"answers,omitempty"`
}

// CarriedAnswer is an answer carried across continue-as-new.
type CarriedAnswer struct {
	Answer Answer `json:"answer"`
	Reject bool   `json:"reject,omitempty"`
	Action Action `json:"action,omitempty"`
	// Rollback: the answer is an abort with --rollback.
	Rollback bool `json:"rollback,omitempty"`
}

// Approval answers a gate. Reject with a comment to stop (or, for an
// optional step, skip) instead of going on.
type Approval struct {
	Step   string `json:"step"`
	Reject bool   `json:"reject,omitempty"`
	// By is who answers: Who's name. A caller that sends only By (a plain
	// `temporal workflow update`) is recorded as claimed, unverified.
	By string `json:"by"`
	// Who is the answering person's identity as the starter found it.
	Who     *Identity `json:"who,omitempty"`
	Comment string    `json:"comment,omitempty"`
	// Ack acknowledges a required step's warning (Step.Required.ID): a
	// rejection that skips a required step needs it.
	Ack string `json:"ack,omitempty"`
	// Config, when set, is a corrected config (the guide's input as JSON)
	// for the steps not done yet; see Decision.Config.
	Config json.RawMessage `json:"config,omitempty"`
}

// Action is what an operator decides for a failed step.
type Action string

// The three answers to a failed step.
const (
	ActionRetry Action = "retry" // run the step again from the start
	ActionSkip  Action = "skip"  // go on without it (a comment is required)
	ActionAbort Action = "abort" // end the run, failed, with a summary
)

// Decision answers a failed step.
type Decision struct {
	Step   string `json:"step"`
	Action Action `json:"action"`
	// By and Who: as in Approval.
	By      string    `json:"by"`
	Who     *Identity `json:"who,omitempty"`
	Comment string    `json:"comment,omitempty"`
	// Ack acknowledges a required step's warning (Step.Required.ID): skip
	// of a required step needs it.
	Ack string `json:"ack,omitempty"`
	// Config, with retry, is a corrected config (the guide's input as
	// JSON). It is validated as a whole as at start; the retried step and
	// every later one use it, steps already done keep their results. It is
	// refused when it would change a step that has started.
	Config json.RawMessage `json:"config,omitempty"`
	// Rollback, with abort, runs the undo steps of every step done (latest
	// first) before the run ends, rolled back. It is refused once the
	// plan's point of no return (Step.NoReturn) has started.
	Rollback bool `json:"rollback,omitempty"`
}

// Answer is what a person said and when, as the run recorded it.
type Answer struct {
	Action  string    `json:"action"`
	By      string    `json:"by"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	Via     string    `json:"via"` // "update" or "signal"
	// Step is the step answered; Who the identity behind By; Ack the
	// required step's warning acknowledged with a skip.
	Step string    `json:"step,omitempty"`
	Who  *Identity `json:"who,omitempty"`
	Ack  string    `json:"ack,omitempty"`
	// Config lists the keys a corrected config sent with the answer changed.
	Config []string `json:"config,omitempty"`
	// Rollback: an abort that rolls the run back (Decision.Rollback).
	Rollback bool `json:"rollback,omitempty"`
}

// ConfigChange records a corrected config the run took: who sent it, with
// which answer, and every key it changed.
type ConfigChange struct {
	Step    string      `json:"step"`
	Action  string      `json:"action"`
	By      string      `json:"by"`
	At      time.Time   `json:"at"`
	Changes []KeyChange `json:"changes"`
}

// KeyChange is one changed key of a config, in its JSON form ("releases.0").
// Configs hold secret names, never secret values.
type KeyChange struct {
	Key string `json:"key"`
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// TryStatus is one operator try of a step's activity and what Temporal did
// within it: an activity that times out or fails for a passing reason is
// attempted again by Temporal (the step's retry policy) before the operator
// is asked, and those attempts are shown here.
type TryStatus struct {
	Try int `json:"try"`
	// Attempts is how many times Temporal ran the activity in this try;
	// zero while it runs or when Temporal could not be asked.
	Attempts int32 `json:"attempts,omitempty"`
	// Failures are the attempts' failures Temporal kept: the last
	// attempt's, and the one before it (Temporal's lastFailure). Earlier
	// ones are not kept by Temporal.
	Failures []AttemptFailure `json:"failures,omitempty"`
	// Worker is the identity of the worker that ran the last attempt.
	Worker string `json:"worker,omitempty"`
	// WorkerLost: the try's last attempt lost its worker (a heartbeat
	// timeout) and the step started the next try by itself.
	WorkerLost bool `json:"workerLost,omitempty"`
}

// AttemptFailure is why one Temporal attempt failed.
type AttemptFailure struct {
	Attempt int32  `json:"attempt"`
	Failure string `json:"failure"`
}

// StepStatus is everything the run knows about one step.
type StepStatus struct {
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"`
	Summary string `json:"summary"`
	// Section is the guide section the step carries out (Step.Section).
	Section string `json:"section,omitempty"`
	// Required is the guide's warning against skipping the step.
	Required *Warning `json:"required,omitempty"`
	// Destructive: the step's gate guards a change that cannot be undone.
	Destructive bool `json:"destructive,omitempty"`
	// Undo names the step's undo steps (Step.Undo), run by an abort with
	// --rollback once the step is done; Undoes, on an undo step, names the
	// step it reverses.
	Undo   []string `json:"undo,omitempty"`
	Undoes string   `json:"undoes,omitempty"`
	// NoReturn, on the plan's point of no return, is the guide's warning:
	// once this step has started, --rollback is refused.
	NoReturn  string    `json:"noReturn,omitempty"`
	Prompt    string    `json:"prompt,omitempty"`
	State     StepState `json:"state"`
	Attempts  int       `json:"attempts"`
	StartedAt time.Time `json:"startedAt,omitempty"`
	EndedAt   time.Time `json:"endedAt,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	// Result is the activity's one-line outcome (its Summary field).
	Result string `json:"result,omitempty"`
	// Outputs and Items are what the activity published for later steps
	// (Outcome.Outputs and Outcome.Items): references, never secrets.
	Outputs map[string]string `json:"outputs,omitempty"`
	Items   []string          `json:"items,omitempty"`
	// Parent is the placeholder step this one was expanded from, and Item
	// the list item it was built for.
	Parent string `json:"parent,omitempty"`
	Item   string `json:"item,omitempty"`
	// Tries holds one entry per operator try of the activity (Attempts
	// counts them), with Temporal's attempts inside each.
	Tries []TryStatus `json:"tries,omitempty"`
	// WorkerLost counts the tries that lost their worker and were followed
	// by a new try without a person (at most MaxWorkerLost).
	WorkerLost int `json:"workerLost,omitempty"`
	// Site and TaskQueue say where the step's activity was last sent: the
	// site's worker's queue (Target.Sites); empty: the run's own queue.
	Site      string   `json:"site,omitempty"`
	TaskQueue string   `json:"taskQueue,omitempty"`
	Overdue   bool     `json:"overdue,omitempty"`
	Approval  *Answer  `json:"approval,omitempty"`
	Decisions []Answer `json:"decisions,omitempty"`
}

// RunStatus is the answer to QueryStatus and the workflow's result.
type RunStatus struct {
	Guide       string       `json:"guide"`
	Title       string       `json:"title"`
	Target      Target       `json:"target"`
	State       RunState     `json:"state"`
	CurrentStep string       `json:"currentStep,omitempty"`
	Steps       []StepStatus `json:"steps"`
	// Notices records signals that could not be applied (unknown step,
	// step not waiting), so a mistyped `temporal workflow signal` is seen.
	Notices []string `json:"notices,omitempty"`
	// ConfigChanges lists the corrected configs the run took, in order.
	ConfigChanges []ConfigChange `json:"configChanges,omitempty"`
	// Continued counts how often the run continued as new to keep its
	// history short; the workflow ID stays the same.
	Continued int `json:"continued,omitempty"`
	// StartedBy is who started the run (Target.StartedBy).
	StartedBy *Identity `json:"startedBy,omitempty"`
	// Decisions lists every answer the run took (approve, reject, retry,
	// skip, abort; by update or signal), in order: who, when, why, which
	// step. The memo keeps the same list as text.
	Decisions []Answer `json:"decisions,omitempty"`
}

// Step returns the status of the named step, or nil.
func (s *RunStatus) Step(name string) *StepStatus {
	for i := range s.Steps {
		if s.Steps[i].Name == name {
			return &s.Steps[i]
		}
	}
	return nil
}

// Waiting lists the steps that wait for a person right now.
func (s *RunStatus) Waiting() []StepStatus {
	var out []StepStatus
	for _, st := range s.Steps {
		if st.State == StepWaitingApproval || st.State == StepFailedAwaiting {
			out = append(out, st)
		}
	}
	return out
}

// Outcome is the shape every activity result shares (contract.Outcome).
type Outcome = contract.Outcome
