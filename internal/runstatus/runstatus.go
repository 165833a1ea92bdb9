// Package runstatus holds the run's status as the status query answers it
// and the workflow returns it (RunStatus and what it is made of): the types
// the workflows, the report activity and the starter all read. It imports
// nothing of the project's, so activities read a run's status without
// importing the workflows (workflows/runbook re-exports every name).
package runstatus

import (
	"fmt"
	"strings"
	"time"
	"upgrader/internal/text"
)

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
	// PlanRevision is the revision of the guide's plan the run follows, fixed when
	// it starts (runbook.Guide.PlanRevision then; -1: the plan before the
	// guide's first revision), kept across continue-as-new and corrected
	// configs, so a worker with a newer plan goes on with the run's own.
	// 0: the newest (a plan shown before any run). Configs never set it.
	PlanRevision int `json:"planRevision,omitempty" yaml:"-" mapstructure:"-"`
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

// Action is what an operator decides for a failed step.
type Action string

// The three answers to a failed step.
const (
	ActionRetry Action = "retry" // run the step again from the start
	ActionSkip  Action = "skip"  // go on without it (a comment is required)
	ActionAbort Action = "abort" // end the run, failed, with a summary
)

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

// Where an identity came from.
const (
	IdentityMTLS    = "mtls"    // the subject of the client certificate the starter connects with
	IdentityOSUser  = "os-user" // the starter's OS user: unverified
	IdentityClaimed = "claimed" // only a name in the answer (By), from a caller that is not the starter
)

// Identity is a person as the run records them.
type Identity struct {
	// Name is what approver lists match: the certificate's common name,
	// or the OS user name.
	Name string `json:"name"`
	// Subject is the certificate's whole subject (mTLS only).
	Subject string `json:"subject,omitempty"`
	// Source says where the name came from (IdentityMTLS, …).
	Source string `json:"source"`
	// Verified: the name comes from a client certificate the Temporal
	// server accepted; false for an OS user or a bare name.
	Verified bool `json:"verified"`
}

// String is the identity as status and the memo show it:
// "alice (mTLS CN=alice,O=ops)", "root (OS user, unverified)".
func (i Identity) String() string {
	switch {
	case i.Source == IdentityMTLS && i.Verified:
		return fmt.Sprintf("%s (mTLS %s)", i.Name, i.Subject)
	case i.Source == IdentityOSUser:
		return i.Name + " (OS user, unverified)"
	default:
		return i.Name + " (" + i.Source + ", unverified)"
	}
}

// Approvers says who may answer a run's gates (approve or reject). A gate's
// own list (Gates, by step name — or by the placeholder's name for the
// steps an expansion builds) comes first; then Destructive for a
// destructive gate; then Default. A list that is empty or absent lets
// anyone answer. Decisions on failed steps (retry, skip, abort) are open to
// anyone who may reach the run; they are recorded like every answer.
type Approvers struct {
	// Default lists who may answer any gate without a list of its own.
	Default []string `json:"default,omitempty" yaml:"default" mapstructure:"default"`
	// Destructive lists who may answer a destructive gate (one before a
	// step that deletes or changes something for good).
	Destructive []string `json:"destructive,omitempty" yaml:"destructive" mapstructure:"destructive"`
	// Gates lists, by gate step name, who may answer that gate.
	Gates map[string][]string `json:"gates,omitempty" yaml:"gates" mapstructure:"gates"`
	// AllowSelfApproval lets the person who started the run approve its
	// destructive gates (a one-person lab). Off: another person must.
	AllowSelfApproval bool `json:"allowSelfApproval,omitempty" yaml:"allowSelfApproval" mapstructure:"allowSelfApproval"`
}

// String is one decision as the memo and reports show it.
func (a Answer) String() string {
	who := a.By
	if a.Who != nil {
		who = a.Who.String()
	}
	line := fmt.Sprintf("%s %s %s by %s", a.At.UTC().Format(time.RFC3339), a.Action, a.Step, who)
	if a.Via == "signal" {
		line += " (signal)"
	}
	if a.Ack != "" {
		line += " acknowledging " + a.Ack
	}
	if a.Rollback {
		line += " with --rollback"
	}
	if a.Comment != "" {
		line += ": " + a.Comment
	}
	return line
}

// String is one line for the memo: when, who, with which answer, what.
func (c ConfigChange) String() string {
	var parts []string
	for _, k := range c.Changes {
		parts = append(parts, fmt.Sprintf("%s: %s → %s", k.Key, orNone(k.Old), orNone(k.New)))
	}
	return fmt.Sprintf("%s %s (%s %s): %s", c.At.UTC().Format(time.RFC3339), c.By, c.Action, c.Step,
		strings.Join(parts, "; "))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return text.Truncate(s, 120)
}

// Site is one network zone: the task queue its worker polls and what lives
// there. A step goes to the site that names it (Steps), or else to the site
// holding the cluster, host or database it acts on; a step that names no
// site's member runs on the run's own task queue.
type Site struct {
	// TaskQueue is the queue this site's worker polls
	// (worker --task-queue, or temporal.taskQueue in its config).
	TaskQueue string `json:"taskQueue" yaml:"taskQueue" mapstructure:"taskQueue"`
	// Clusters are the Kubernetes clusters here, as the worker's clusters:
	// and the config name them.
	Clusters []string `json:"clusters,omitempty" yaml:"clusters" mapstructure:"clusters"`
	// Hosts are the inventory's hosts here, by name or address.
	Hosts []string `json:"hosts,omitempty" yaml:"hosts" mapstructure:"hosts"`
	// Databases are the MySQL and MongoDB servers here, by the name the
	// config gives them or their address.
	Databases []string `json:"databases,omitempty" yaml:"databases" mapstructure:"databases"`
	// Steps are step names or patterns (path.Match: "backup-values/*")
	// that run here whatever they act on: an HTTP API reachable only from
	// this site's network.
	Steps []string `json:"steps,omitempty" yaml:"steps" mapstructure:"steps"`
}

// Kind says what sort of work a step does. It picks the step's default
// activity options (timeouts, retries, heartbeat) and is shown in plans.
type Kind string

// The kinds of step. A guide picks the one that matches what the step
// touches; the defaults for each live in KindDefaults.
const (
	KindGate   Kind = "gate"   // a person decides; no activity runs
	KindCheck  Kind = "check"  // read-only pre-flight or verification
	KindBackup Kind = "backup" // copies state aside before a change
	KindHelm   Kind = "helm"   // a Helm release is installed, upgraded or removed
	KindKube   Kind = "kube"   // Kubernetes objects are applied or read
	KindSQL    Kind = "sql"    // a database is changed
	KindHost   Kind = "host"   // a command runs on a host over SSH
	KindHTTP   Kind = "http"   // an HTTP API is called
	KindWait   Kind = "wait"   // polls until something is ready; heartbeats
)

// Warning is the guide's reason a step must not be skipped.
type Warning struct {
	// ID is short and stable; an operator types it to acknowledge the
	// warning (`decide … skip --ack ID`).
	ID string `json:"id"`
	// Text is the warning, in the guide's words where it has them.
	Text string `json:"text"`
}
