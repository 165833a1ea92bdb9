// Package runbook is the machinery every upgrade guide shares: it runs a
// guide's steps in order (or side by side where the guide allows), asks a
// person at every gate, pauses on a failed step until an operator decides,
// and keeps a progress record that queries, search attributes and the Web UI
// read. A guide's workflow file only builds the list of steps; this package
// runs it.
//
// A guide's workflow body is one call:
//
//	func DemoUpgrade(ctx workflow.Context, in DemoInput) (runbook.RunStatus, error) {
//		return runbook.RunInput(ctx, DemoGuide, &in, runbook.Options{NewInput: newDemoInput})
//	}
//
// RunInput takes a corrected config with `decide … retry` or `approve`
// (validated and planned as at start, applied to the steps not done yet) and
// continues as new when a long wait grows the history, carrying the run's
// progress. Values known only at run time pass between steps as outputs
// (Outcome.Outputs, taken by Step.Inputs with From); a list output expands
// into one step per item (Step.Expand). Within each operator try, the
// status shows Temporal's own attempts and their failures (StepStatus.Tries).
package runbook

import (
	"fmt"
	"regexp"
	"strings"
	"time"
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
	// Section is the ID of the guide section (Guide.Map) this step carries
	// out; plans, status and the Web UI show it beside the step ("§7.6").
	Section string
	// Site, when set, is the site (Target.Sites) whose worker runs this
	// step's activity, whatever it acts on; empty: the site of the cluster,
	// host or database it acts on, or the run's own task queue (SiteOf).
	Site string
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
	// Required marks a step the guide warns must not be left out (a
	// backup before deletes; a migration log that, with an exception, means
	// the upgrade cannot go on). It is skipped only by an answer that
	// acknowledges the warning by its ID in the same call (`--ack ID`).
	Required *Warning
	// OnlyIfSkipped names an earlier step: this step runs only when an
	// operator skipped that one (the guide's "if the log line does not come,
	// call the repair API"); otherwise it is skipped by itself as not needed.
	OnlyIfSkipped string
	// Parallel groups consecutive steps that may run side by side; steps
	// with the same non-empty value next to each other start together.
	Parallel string
	// Lane, within a Parallel group, makes the steps of one lane run one
	// after another while lanes run side by side (lanes.go).
	Lane *Lane
	// Timeout bounds one try of the activity (StartToClose); zero keeps the
	// kind's default.
	Timeout time.Duration
	// Heartbeat is how long the activity may go without a heartbeat before
	// Temporal gives the try to another worker; zero keeps the kind's default.
	Heartbeat time.Duration
	// MaxAttempts bounds automatic retries of the activity before the step
	// pauses for an operator decision; zero keeps the kind's default.
	MaxAttempts int32
	// Inputs fills fields of Input when the step runs, from outputs that
	// earlier steps published (Outcome.Outputs). A key is the field's path
	// in Input's JSON form: "fromVersion", or "env.FROM_VERSION" for a key of
	// a map field. The producer must be an earlier step that is done by
	// then; a producer that was skipped pauses this step for a decision.
	Inputs map[string]From
	// Expand makes this step a placeholder for one step per item of an
	// earlier step's list output (Outcome.Items), built when the list is
	// known. A placeholder has no Activity or Gate of its own.
	Expand *Expand
	// Undo lists the steps that reverse this one (re-install a deleted
	// release, then wait for it up). `decide … abort --rollback` before the
	// point of no return runs the undo steps of every step that is done,
	// latest step first, each as a step of its own in status and the Web UI.
	// Their names start with "undo/"; they may take Inputs from this step and
	// earlier ones (the backup they restore from). An undo step must be safe
	// to run again after a lost worker, as any step.
	Undo []Step
	// NoReturn marks the point of no return: once this step has started,
	// nothing can be undone and --rollback is refused with this text (the
	// guide's warning). At most one step of a plan has it, and no step from
	// it on has an Undo.
	NoReturn string
}

// UndoPrefix starts the name of every undo step ("undo/delete-release/x").
const UndoPrefix = "undo/"

// Display is how the Web UI names the step: its section, then its name
// ("§1.6 follow-log/data-migration"). Temporal does not compare summaries
// on replay, so histories recorded before sections existed still replay.
func (s Step) Display() string {
	if s.Section == "" {
		return s.Name
	}
	return "§" + s.Section + " " + s.Name
}

// From names one output of an earlier step: a value known only at run
// time. Outputs are references (a version string, a secret's name, an
// artifact path), never a secret's value: what a step reads that is secret
// stays on the worker, and only its name travels through Temporal.
type From struct {
	// Step is the producing step's name.
	Step string
	// Output is the key in the producer's Outcome.Outputs.
	Output string
}

// String is how plans show a value not known yet: "from step.output".
func (f From) String() string { return "from " + f.Step + "." + f.Output }

// Expand turns a placeholder step into one step per item of a list that an
// earlier step produced (the plugins running on a platform, say), each with
// its own stable name, shown in status and the Web UI as it appears.
type Expand struct {
	// From names the step whose Outcome.Items lists the items.
	From string
	// SideBySide runs the expanded steps together; otherwise one after
	// another, in the list's order.
	SideBySide bool
	// Build returns the step for one item. Its name must be the
	// placeholder's name, a slash, and a name for the item
	// ("reregister-plugin/" + item). Build must depend only on the item and
	// the config: a replayed run builds the same steps again.
	Build func(item string) Step
}

// ItemPlaceholder is the item Build is called with when a plan is printed
// or validated, before the list is known.
const ItemPlaceholder = "<item>"

// MinRemindAfter is the shortest reminder period a gate may have: every
// reminder adds events to the run's history.
const MinRemindAfter = 5 * time.Minute

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
	// Destructive marks a gate before a change that cannot be undone (a
	// delete, a schema migration): the person who started the run may not
	// approve it unless the config allows it, and approvers.destructive
	// lists who may.
	Destructive bool
	// Show names earlier steps whose result and outputs the prompt shows
	// when the gate opens: what the person must read before answering (a
	// check's output before a migration).
	Show []string
}

var (
	stepName  = regexp.MustCompile(`^[a-z0-9][a-z0-9._/@-]*$`)
	warningID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// ValidatePlan checks a guide's steps as a whole and reports every problem at
// once: names present, well-formed and unique, requirements and inputs that
// point to earlier steps, gates with a prompt and reminders no more often
// than MinRemindAfter, activities where there is no gate, expansions whose
// template step is valid.
func ValidatePlan(steps []Step) error {
	v := planCheck{seen: map[string]int{}, group: map[string]string{}}
	for i, s := range steps {
		v.step(i, s, fmt.Sprintf("step %d (%s)", i+1, s.Name))
		if s.Expand != nil && s.Expand.Build != nil {
			t := s.Expand.Build(ItemPlaceholder)
			where := fmt.Sprintf("step %d (%s): expanded step %s", i+1, s.Name, t.Name)
			if !strings.HasPrefix(t.Name, s.Name+"/") {
				v.add(where + ": name must start with " + s.Name + "/")
			}
			if t.Expand != nil {
				v.add(where + ": expands again; one level only")
			}
			if t.Parallel != "" {
				v.add(where + ": sets Parallel; use Expand.SideBySide")
			}
			v.checkStep(where, t, s.Name)
		}
		v.seen[s.Name] = i
		v.group[s.Name] = s.Parallel
	}
	v.lanes(steps)
	v.undos(steps)
	if len(v.problems) > 0 {
		return fmt.Errorf("invalid plan:\n  - %s", strings.Join(v.problems, "\n  - "))
	}
	return nil
}

type planCheck struct {
	problems []string
	seen     map[string]int    // earlier steps by name
	group    map[string]string // their Parallel group
}

func (v *planCheck) add(p string) { v.problems = append(v.problems, p) }

func (v *planCheck) step(i int, s Step, where string) {
	switch {
	case s.Name == "":
		v.add(fmt.Sprintf("step %d has no name", i+1))
	case !stepName.MatchString(s.Name):
		v.add(where + ": name must be lower-case letters, digits and . _ / @ -")
	}
	if j, dup := v.seen[s.Name]; dup && s.Name != "" {
		v.add(fmt.Sprintf("%s: same name as step %d", where, j+1))
	}
	if s.Expand != nil {
		if s.Activity != nil || s.Gate != nil {
			v.add(where + ": expands into steps, so it has no activity or gate of its own")
		}
		if s.Parallel != "" {
			v.add(where + ": expands into steps and cannot be in a parallel group; use Expand.SideBySide")
		}
		if s.Expand.Build == nil {
			v.add(where + ": expand without Build")
		}
		v.producer(where, "expands the items of", s.Expand.From, s.Parallel)
		if len(s.Inputs) > 0 {
			v.add(where + ": expands into steps; give Inputs to the steps Build returns")
		}
		return
	}
	v.checkStep(where, s, "")
}

// checkStep checks one runnable step: a plan's own, or (parent set) the
// template of an expansion, which runs after everything before its
// placeholder.
func (v *planCheck) checkStep(where string, s Step, parent string) {
	if s.Kind == "" {
		v.add(where + ": no kind")
	}
	if s.Activity == nil && s.Gate == nil {
		v.add(where + ": neither an activity nor a gate")
	}
	if s.Gate != nil {
		if strings.TrimSpace(s.Gate.Prompt) == "" {
			v.add(where + ": gate without a prompt")
		}
		for _, n := range s.Gate.Show {
			if _, ok := v.seen[n]; !ok {
				v.add(fmt.Sprintf("%s: gate shows %q, which is not an earlier step", where, n))
			}
		}
		if s.Gate.RemindAfter != 0 && s.Gate.RemindAfter < MinRemindAfter {
			v.add(fmt.Sprintf("%s: gate reminds every %s; reminders must be at least %s apart (or 0 for none)",
				where, s.Gate.RemindAfter, MinRemindAfter))
		}
	}
	if w := s.Required; w != nil {
		if !warningID.MatchString(w.ID) {
			v.add(where + ": required warning needs an ID of lower-case letters, digits and -")
		}
		if strings.TrimSpace(w.Text) == "" {
			v.add(where + ": required warning has no text")
		}
	}
	if s.OnlyIfSkipped != "" {
		if _, ok := v.seen[s.OnlyIfSkipped]; !ok {
			v.add(fmt.Sprintf("%s: onlyIfSkipped %q is not an earlier step", where, s.OnlyIfSkipped))
		}
	}
	for _, r := range s.Requires {
		if _, ok := v.seen[r]; !ok {
			v.add(fmt.Sprintf("%s: requires %q, which is not an earlier step", where, r))
		}
	}
	if len(s.Inputs) > 0 && s.Activity == nil {
		v.add(where + ": takes inputs but runs no activity")
	}
	for _, path := range sortedKeys(s.Inputs) {
		f := s.Inputs[path]
		if f.Output == "" {
			v.add(fmt.Sprintf("%s: input %s names no output of %s", where, path, f.Step))
		}
		group := s.Parallel
		if parent != "" {
			group = ""
		}
		v.producer(where, "input "+path+" is taken from", f.Step, group)
		if err := checkInputPath(s.Input, path); err != nil {
			v.add(fmt.Sprintf("%s: input %s: %v", where, path, err))
		}
	}
}

// producer checks that a step whose output is used comes before its
// consumer and does not run side by side with it.
func (v *planCheck) producer(where, what, name, group string) {
	if name == "" {
		v.add(where + ": " + what + " no step")
		return
	}
	if _, ok := v.seen[name]; !ok {
		v.add(fmt.Sprintf("%s: %s %q, which is not an earlier step; a step's outputs exist only after it ran", where, what, name))
		return
	}
	if group != "" && v.group[name] == group {
		v.add(fmt.Sprintf("%s: %s %q, which runs side by side with it (parallel %s), not before it", where, what, name, group))
	}
}

// undos checks each step's undo steps and the point of no return: undo
// names start with UndoPrefix and are unique in the plan; an undo step is a
// plain step (no undo, expansion, group, requirement or marker of its own)
// whose inputs come from its step or earlier ones; at most one step is the
// point of no return, and no step from it on has an undo (it could never run).
func (v *planCheck) undos(steps []Step) {
	names := map[string]bool{}
	for _, s := range steps {
		names[s.Name] = true
	}
	seen := map[string]int{}
	group := map[string]string{}
	noReturn := -1
	for i, s := range steps {
		where := fmt.Sprintf("step %d (%s)", i+1, s.Name)
		seen[s.Name], group[s.Name] = i, ""
		if s.NoReturn != "" {
			if noReturn >= 0 {
				v.add(fmt.Sprintf("%s: a second point of no return (step %d is one); a plan has at most one", where, noReturn+1))
			} else {
				noReturn = i
			}
		}
		if strings.HasPrefix(s.Name, UndoPrefix) {
			v.add(where + ": a plan step's name may not start with " + UndoPrefix + "; that names undo steps")
		}
		undo, template := s.Undo, len(s.Undo)
		if s.Expand != nil && s.Expand.Build != nil {
			t := s.Expand.Build(ItemPlaceholder)
			if t.NoReturn != "" {
				v.add(where + ": its expanded steps cannot be the point of no return; mark the placeholder")
			}
			undo = append(append([]Step{}, undo...), t.Undo...)
		}
		if len(undo) > 0 && noReturn >= 0 {
			v.add(fmt.Sprintf("%s: has undo steps but comes after the point of no return (step %d); they could never run", where, noReturn+1))
		}
		for j, u := range undo {
			uw := fmt.Sprintf("%s: undo step %d (%s)", where, j+1, u.Name)
			switch {
			case !strings.HasPrefix(u.Name, UndoPrefix):
				v.add(uw + ": name must start with " + UndoPrefix)
			case j < template && !stepName.MatchString(u.Name):
				v.add(uw + ": name must be lower-case letters, digits and . _ / @ -")
			case names[u.Name]:
				v.add(uw + ": same name as another step")
			}
			names[u.Name] = true
			if len(u.Undo) > 0 || u.Expand != nil || u.Parallel != "" || u.Lane != nil || len(u.Requires) > 0 ||
				u.OnlyIfSkipped != "" || u.NoReturn != "" {
				v.add(uw + ": an undo step is a plain step: no undo, expand, parallel, lane, requires, onlyIfSkipped or point of no return")
			}
			c := planCheck{seen: seen, group: group}
			c.checkStep(uw, u, "")
			v.problems = append(v.problems, c.problems...)
		}
	}
}
