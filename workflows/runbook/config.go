package runbook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"go.temporal.io/sdk/workflow"
)

// A run paused on a wrong config value (a missing release mapping, a bad
// URL) can be retried with a corrected config instead of being aborted and
// started again. The corrected config travels in the retry (or approve)
// Update, so history records it; it is decoded into the guide's input type,
// validated and planned as at start, and refused as a whole when anything is
// wrong, with every problem named by key. It applies to the steps not done
// yet; a change that would rename, add or remove a step that has started is
// refused.

// configCandidate is a corrected config that passed every check.
type configCandidate struct {
	input    Input
	plan     []Step
	changes  []KeyChange
	frontier int // plan steps [0, frontier) have started and keep their names
}

// checkConfig decodes, validates and plans a corrected config without
// changing the run: Update validators call it.
func (r *runner) checkConfig(raw json.RawMessage) (*configCandidate, error) {
	if r.input == nil || r.opts.NewInput == nil {
		return nil, errors.New("this run takes no corrected config; abort it and start a new run with the corrected config")
	}
	in := r.opts.NewInput()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	//workflowcheck:ignore
	if err := dec.Decode(in); err != nil {
		return nil, fmt.Errorf("corrected config refused: it is not this guide's config: %v", err)
	}
	t := in.GetTarget()
	t.Resume = nil
	// Who started the run is the run's, not the config's; who may approve
	// is fixed at start: an approver cannot widen the list, or allow
	// themselves, in the answer they send.
	t.StartedBy = r.target.StartedBy
	t.Webhooks = r.target.Webhooks
	t.PlanRevision = r.target.PlanRevision // the run's plan revision, whatever the worker's newest
	if was, now := mustJSON(r.target.Approvers), mustJSON(t.Approvers); !bytes.Equal(was, now) {
		return nil, fmt.Errorf("corrected config refused: approvers cannot change within a run (the run has %s, the config %s); "+
			"abort and start a new run to change them", was, now)
	}
	if t.Environment != r.target.Environment || t.From != r.target.From || t.To != r.target.To {
		return nil, fmt.Errorf("corrected config refused: it is for %s (%s → %s), this run upgrades %s (%s → %s); "+
			"environment and versions cannot change within a run", t.Environment, t.From, t.To,
			r.target.Environment, r.target.From, r.target.To)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("corrected config refused: %v", err)
	}
	plan, err := in.Plan()
	if err == nil {
		err = ValidatePlan(plan)
	}
	if err == nil {
		err = CheckSites(*in.GetTarget(), plan)
	}
	if err != nil {
		return nil, fmt.Errorf("corrected config refused: %v", err)
	}
	changes, err := DiffConfig(r.input, in)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return nil, errors.New("the corrected config is the same as the run's; send the answer without a config")
	}
	frontier, err := r.checkPlanChange(plan)
	if err != nil {
		return nil, err
	}
	return &configCandidate{input: in, plan: plan, changes: changes, frontier: frontier}, nil
}

// checkPlanChange refuses a new plan that changes a step that has started:
// every plan step up to the last one that left pending must stay, in the
// same place, and an expansion already made must build the same names.
func (r *runner) checkPlanChange(plan []Step) (int, error) {
	frontier := 0
	for j, s := range r.plan {
		if r.status.Steps[r.index[s.Name]].State != StepPending {
			frontier = j + 1
		}
	}
	for j := 0; j < frontier; j++ {
		old := r.plan[j]
		if j >= len(plan) || plan[j].Name != old.Name {
			return 0, fmt.Errorf("corrected config refused: it changes the steps that have started: "+
				"step %d would be %s, the run has %s there; only steps not started yet may change",
				j+1, planName(plan, j), old.Name)
		}
		if (plan[j].Expand == nil) != (old.Expand == nil) {
			return 0, fmt.Errorf("corrected config refused: step %s has started and would change from or to an expansion", old.Name)
		}
		i := r.index[old.Name]
		for c := i + 1; c < len(r.status.Steps) && r.status.Steps[c].Parent == old.Name; c++ {
			item := r.status.Steps[c].Item
			if got := plan[j].Expand.Build(item).Name; got != r.status.Steps[c].Name {
				return 0, fmt.Errorf("corrected config refused: item %q of %s would become step %s, the run has %s",
					item, old.Name, got, r.status.Steps[c].Name)
			}
		}
	}
	return frontier, nil
}

// applyConfig takes a corrected config the validator accepted: steps not done
// get their new definitions, later steps are planned afresh, done steps keep
// theirs and their results. It returns the keys that changed.
func (r *runner) applyConfig(ctx workflow.Context, raw json.RawMessage, ans Answer, step string) []string {
	c, err := r.checkConfig(raw)
	if err != nil {
		r.notice(fmt.Sprintf("corrected config from %s not applied: %v", ans.By, err))
		return nil
	}
	var steps []Step
	var sts []StepStatus
	for j, s := range c.plan {
		if j >= c.frontier {
			steps = append(steps, s)
			sts = append(sts, newStepStatus(s))
			continue
		}
		i := r.index[s.Name]
		def, st := s, r.status.Steps[i]
		if finished(st.State) {
			def = r.steps[i]
		} else {
			renew(&st, s)
		}
		steps, sts = append(steps, def), append(sts, st)
		for k := i + 1; k < len(r.status.Steps) && r.status.Steps[k].Parent == s.Name; k++ {
			cdef, cst := r.steps[k], r.status.Steps[k]
			if !finished(cst.State) {
				cdef = s.Expand.Build(cst.Item)
				cdef.Parallel = ""
				renew(&cst, cdef)
			}
			steps, sts = append(steps, cdef), append(sts, cst)
		}
	}
	r.plan, r.steps, r.status.Steps, r.input = c.plan, steps, sts, c.input
	r.reindex()

	change := ConfigChange{Step: step, Action: ans.Action, By: ans.By, At: ans.At, Changes: c.changes}
	r.status.ConfigChanges = append(r.status.ConfigChanges, change)
	var lines []string
	for _, ch := range r.status.ConfigChanges {
		lines = append(lines, ch.String())
	}
	_ = workflow.UpsertMemo(ctx, map[string]any{"configChanges": lines})
	keys := make([]string, len(c.changes))
	for k, ch := range c.changes {
		keys[k] = ch.Key
	}
	r.logger.Info("corrected config applied", "step", step, "by", ans.By, "keys", keys)
	return keys
}

func finished(s StepState) bool { return s == StepDone || s == StepSkipped }

// renew shows a step's new definition in its status.
func renew(st *StepStatus, s Step) {
	st.Summary = s.Summary
	st.Section = s.Section
	st.Required = s.Required
	st.Prompt = ""
	st.Destructive = false
	if s.Gate != nil {
		st.Prompt = s.Gate.Prompt
		st.Destructive = s.Gate.Destructive
	}
}

// DiffConfig lists every key whose value differs between two configs, in
// their JSON form; lists and maps are compared element by element
// ("releases.1", "probe.interval"). The run's progress (resume) is not
// config and is left out.
func DiffConfig(old, new any) ([]KeyChange, error) {
	a, err := flatten(old)
	if err != nil {
		return nil, err
	}
	b, err := flatten(new)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	// A set; sorted below.
	//workflowcheck:ignore
	for k := range a {
		keys[k] = true
	}
	// A set; sorted below.
	//workflowcheck:ignore
	for k := range b {
		keys[k] = true
	}
	var out []KeyChange
	for _, k := range sortedKeys(keys) {
		if a[k] != b[k] {
			out = append(out, KeyChange{Key: k, Old: a[k], New: b[k]})
		}
	}
	return out, nil
}

// flatten turns a value into key → scalar (as JSON text, strings bare).
func flatten(v any) (map[string]string, error) {
	//workflowcheck:ignore
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("unable to encode the config: %w", err)
	}
	var tree any
	//workflowcheck:ignore
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, fmt.Errorf("unable to decode the config: %w", err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		join := func(k string) string {
			if prefix == "" {
				return k
			}
			return prefix + "." + k
		}
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			// Sorted below.
			//workflowcheck:ignore
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if prefix == "" && k == "resume" {
					continue
				}
				walk(join(k), t[k])
			}
		case []any:
			for i, e := range t {
				walk(join(fmt.Sprint(i)), e)
			}
		case nil:
		case string:
			out[prefix] = t
		default:
			//workflowcheck:ignore
			s, _ := json.Marshal(t)
			out[prefix] = string(s)
		}
	}
	walk("", tree)
	return out, nil
}

// mustJSON is v as JSON, for comparing configs' parts.
func mustJSON(v any) []byte {
	// Marshals plain config structs: no maps of interfaces, no floats
	// printed by locale; the same input gives the same bytes.
	//workflowcheck:ignore
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(err.Error())
	}
	return b
}
