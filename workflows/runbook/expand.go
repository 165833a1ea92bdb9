package runbook

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// runExpand runs a placeholder step: once the list it expands is known, it
// builds one step per item, inserts them after itself (where status and the
// Web UI show them as they appear) and runs them, in order or side by side.
// The placeholder is done when they are.
func (r *runner) runExpand(ctx workflow.Context, i int, resume string) error {
	s := r.steps[i]
	n := r.children(i)
	for n == 0 && r.status.Steps[i].State != StepDone {
		if resume != phaseExpand {
			items, problem := r.items(s.Expand.From)
			var children []Step
			if problem == "" {
				children, problem = r.build(s, items)
			}
			if problem == "" {
				if len(children) == 0 {
					r.status.Steps[i].Result = "nothing to do: " + s.Expand.From + " listed no items"
					delete(r.phase, s.Name)
					r.setState(ctx, i, StepDone)
					return nil
				}
				r.insert(i, s.Name, items, children)
				n = len(children)
				delete(r.phase, s.Name)
				r.status.Steps[i].LastError = ""
				r.logger.Info("step expanded", "step", s.Name, "items", len(children))
				break
			}
			r.status.Steps[i].LastError = problem
			r.phase[s.Name] = phaseExpand
		}
		resume = ""
		retry, err := r.decide(ctx, i)
		if err != nil || !retry {
			return err
		}
		s = r.steps[i]
	}
	r.setState(ctx, i, StepRunning)
	var err error
	if s.Expand.SideBySide {
		err = r.runGroup(ctx, i+1, i+1+n)
	} else {
		for c := i + 1; c <= i+n && err == nil; c++ {
			// A long list grows the history step by step: continue as new
			// between its steps as between the plan's.
			if r.shouldContinue(ctx) && r.quiescent(ctx) {
				r.continuing = true
				return errContinue
			}
			err = r.runStep(ctx, c)
		}
	}
	if err != nil {
		return err
	}
	counts := map[StepState]int{}
	for c := i + 1; c <= i+n; c++ {
		counts[r.status.Steps[c].State]++
	}
	result := fmt.Sprintf("%d steps from %s: %d done", n, s.Expand.From, counts[StepDone])
	if k := counts[StepSkipped]; k > 0 {
		result += fmt.Sprintf(", %d skipped", k)
	}
	r.status.Steps[i].Result = result
	r.setState(ctx, i, StepDone)
	return nil
}

// children counts the steps expanded from step i, which follow it.
func (r *runner) children(i int) int {
	n := 0
	for c := i + 1; c < len(r.status.Steps) && r.status.Steps[c].Parent == r.steps[i].Name; c++ {
		n++
	}
	return n
}

// items reads the list a placeholder expands, or says why it cannot.
func (r *runner) items(from string) ([]string, string) {
	j, ok := r.index[from]
	if !ok {
		return nil, fmt.Sprintf("will not expand: there is no step %s to take the list from", from)
	}
	if st := r.status.Steps[j]; st.State != StepDone {
		return nil, fmt.Sprintf("will not expand: it takes the list of %s, which is %s; "+
			"retry once it is done, skip this step too, or abort", from, st.State)
	}
	return r.status.Steps[j].Items, ""
}

// build makes the step for each item and checks their names: well-formed,
// under the placeholder's, unique in the run.
func (r *runner) build(s Step, items []string) ([]Step, string) {
	var out []Step
	var problems []string
	seen := map[string]string{}
	for _, item := range items {
		c := s.Expand.Build(item)
		c.Parallel = ""
		switch {
		case !strings.HasPrefix(c.Name, s.Name+"/") || !stepName.MatchString(c.Name):
			problems = append(problems, fmt.Sprintf("item %q gives step name %q, which is not %s/ and lower-case letters, digits and . _ / -", item, c.Name, s.Name))
		case seen[c.Name] != "":
			problems = append(problems, fmt.Sprintf("items %q and %q both give step %s", seen[c.Name], item, c.Name))
		default:
			if _, dup := r.index[c.Name]; dup {
				problems = append(problems, fmt.Sprintf("item %q gives step %s, which the run already has", item, c.Name))
			}
		}
		seen[c.Name] = item
		out = append(out, c)
	}
	if len(problems) > 0 {
		return nil, "will not expand: " + strings.Join(problems, "; ") +
			"; fix the list (or the guide) and retry, skip, or abort"
	}
	return out, ""
}

// insert puts the expanded steps after their placeholder at i.
func (r *runner) insert(i int, parent string, items []string, children []Step) {
	sts := make([]StepStatus, len(children))
	for k, c := range children {
		sts[k] = newStepStatus(c)
		sts[k].Parent, sts[k].Item = parent, items[k]
	}
	r.steps = slices.Insert(r.steps, i+1, children...)
	r.status.Steps = slices.Insert(r.status.Steps, i+1, sts...)
	r.reindex()
}
