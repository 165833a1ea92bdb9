package runbook

import (
	"upgrader/internal/contract"

	"time"

	"go.temporal.io/sdk/temporal"
)

// Names of the handlers every guide workflow registers. The starter and
// plain `temporal workflow …` users call them by these names.
const (
	// QueryStatus returns a RunStatus.
	QueryStatus = "status"
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
)

// Target names what is being upgraded; every guide's input embeds it.
type Target struct {
	// Environment is the operator's name for the site (`prod`, `lab`); one
	// run per guide and environment at a time.
	Environment string `json:"environment" yaml:"environment" mapstructure:"environment"`
	// From and To are the product versions the guide moves between.
	From string `json:"from" yaml:"from" mapstructure:"from"`
	To   string `json:"to" yaml:"to" mapstructure:"to"`
}

// Approval answers a gate. Reject with a comment to stop (or, for an
// optional step, skip) instead of going on.
type Approval struct {
	Step    string `json:"step"`
	Reject  bool   `json:"reject,omitempty"`
	By      string `json:"by"`
	Comment string `json:"comment,omitempty"`
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
	Step    string `json:"step"`
	Action  Action `json:"action"`
	By      string `json:"by"`
	Comment string `json:"comment,omitempty"`
}

// Answer is what a person said and when, as the run recorded it.
type Answer struct {
	Action  string    `json:"action"`
	By      string    `json:"by"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	Via     string    `json:"via"` // "update" or "signal"
}

// StepStatus is everything the run knows about one step.
type StepStatus struct {
	Name      string    `json:"name"`
	Kind      Kind      `json:"kind"`
	Summary   string    `json:"summary"`
	Prompt    string    `json:"prompt,omitempty"`
	State     StepState `json:"state"`
	Attempts  int       `json:"attempts"`
	StartedAt time.Time `json:"startedAt,omitempty"`
	EndedAt   time.Time `json:"endedAt,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	// Result is the activity's one-line outcome (its Summary field).
	Result    string   `json:"result,omitempty"`
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
