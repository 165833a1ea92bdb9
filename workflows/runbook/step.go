// Package runbook is the machinery every upgrade guide shares: it runs a
// guide's steps in order (or side by side where the guide allows), asks a
// person at every gate, pauses on a failed step until an operator decides,
// and keeps a progress record that queries, search attributes and the Web UI
// read. A guide's workflow file only builds the list of steps; this package
// runs it.
package runbook

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

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

// Step is one line of a guide: a stable name, what it does, and how to run it.
// Steps are plain data so that the same list drives `starter plan`, the
// workflow and the Web UI.
type Step struct {
	// Name is what the operator sees and types (`approve ID NAME`). It must
	// stay stable for a guide version: running workflows look steps up by it.
	Name string
	// Kind picks default activity options.
	Kind Kind
	// Summary says, in one line, what the step will do.
	Summary string
	// Activity is the activity function (a method on a nil struct pointer,
	// e.g. (*activities.Helm)(nil).Upgrade); nil for a gate-only step.
	Activity any
	// Input is the single argument passed to Activity. It must hold no
	// secret values, only secret names that the worker resolves.
	Input any
	// Gate, when set, makes the step wait for a person before it runs.
	Gate *Gate
	// Requires names earlier steps that must have finished (not been
	// skipped) before this one may run: a destructive step lists its backup.
	Requires []string
	// OnlyIfSkipped names an earlier step: this step runs only when an
	// operator skipped that one (the guide's "if the log line does not come,
	// call the repair API"); otherwise it is skipped by itself as not needed.
	OnlyIfSkipped string
	// Parallel groups consecutive steps that may run side by side; steps
	// with the same non-empty value next to each other start together.
	Parallel string
	// Timeout bounds one try of the activity (StartToClose); zero keeps the
	// kind's default.
	Timeout time.Duration
	// Heartbeat is how long the activity may go without a heartbeat before
	// Temporal gives the try to another worker; zero keeps the kind's default.
	Heartbeat time.Duration
	// MaxAttempts bounds automatic retries of the activity before the step
	// pauses for an operator decision; zero keeps the kind's default.
	MaxAttempts int32
}

// Gate is a question a person must answer before a step runs.
type Gate struct {
	// Prompt says exactly what the person must check or do.
	Prompt string
	// RemindAfter, when set, logs a reminder and marks the gate overdue in
	// the memo each time this long passes without an answer. Waiting itself
	// costs nothing and never ends by itself.
	RemindAfter time.Duration
	// SkipOnReject makes a rejection skip this step and go on; otherwise a
	// rejection ends the run before the step runs.
	SkipOnReject bool
}

var stepName = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*$`)

// ValidatePlan checks a guide's steps as a whole and reports every problem at
// once: names present, well-formed and unique, requirements that point to
// earlier steps, gates with a prompt, activities where there is no gate.
func ValidatePlan(steps []Step) error {
	var problems []string
	seen := map[string]int{}
	for i, s := range steps {
		where := fmt.Sprintf("step %d (%s)", i+1, s.Name)
		switch {
		case s.Name == "":
			problems = append(problems, fmt.Sprintf("step %d has no name", i+1))
		case !stepName.MatchString(s.Name):
			problems = append(problems, where+": name must be lower-case letters, digits and . _ / -")
		}
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			problems = append(problems, fmt.Sprintf("%s: same name as step %d", where, j+1))
		}
		if s.Kind == "" {
			problems = append(problems, where+": no kind")
		}
		if s.Activity == nil && s.Gate == nil {
			problems = append(problems, where+": neither an activity nor a gate")
		}
		if s.Gate != nil && strings.TrimSpace(s.Gate.Prompt) == "" {
			problems = append(problems, where+": gate without a prompt")
		}
		if s.OnlyIfSkipped != "" {
			if _, ok := seen[s.OnlyIfSkipped]; !ok {
				problems = append(problems, fmt.Sprintf("%s: onlyIfSkipped %q is not an earlier step", where, s.OnlyIfSkipped))
			}
		}
		for _, r := range s.Requires {
			if _, ok := seen[r]; !ok {
				problems = append(problems, fmt.Sprintf("%s: requires %q, which is not an earlier step", where, r))
			}
		}
		seen[s.Name] = i
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid plan:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return nil
}
