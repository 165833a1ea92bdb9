package runbook_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"upgrader/workflows/runbook"
)

// produceIn says what the Produce activity publishes.
type produceIn struct {
	Outputs map[string]string `json:"outputs,omitempty"`
	Items   []string          `json:"items,omitempty"`
}

// recordIn is what a consumer step takes; Record keeps every input it got.
type recordIn struct {
	Label   string            `json:"label"`
	Version string            `json:"version,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Count   int               `json:"count,omitempty"`
}

// withOutputs registers Produce (publishes what its input says) and Record
// (remembers each input it was called with, in order).
func (h *harness) withOutputs() *[]recordIn {
	got := &[]recordIn{}
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in produceIn) (runbook.Outcome, error) {
		return runbook.Outcome{Summary: "published", Outputs: in.Outputs, Items: in.Items}, nil
	}, activity.RegisterOptions{Name: "Produce"})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in recordIn) (runbook.Outcome, error) {
		*got = append(*got, in)
		h.calls[in.Label]++
		return runbook.Outcome{Summary: "recorded " + in.Label}, nil
	}, activity.RegisterOptions{Name: "Record"})
	return got
}

func produce(name string, in produceIn) runbook.Step {
	return runbook.Step{Name: name, Kind: runbook.KindCheck, Summary: "read", Activity: "Produce", Input: in}
}

func record(name string, in recordIn) runbook.Step {
	return runbook.Step{Name: name, Kind: runbook.KindHost, Summary: "use", Activity: "Record", Input: in}
}

func TestStepTakesOutputsOfAnEarlierStep(t *testing.T) {
	job := record("upgrade/job", recordIn{Label: "job", Env: map[string]string{"KEEP": "x"}})
	job.Inputs = map[string]runbook.From{
		"version":  {Step: "read-versions/job", Output: "to"},
		"env.FROM": {Step: "read-versions/job", Output: "from"},
	}
	steps := []runbook.Step{
		produce("read-versions/job", produceIn{Outputs: map[string]string{"from": "3.6.2", "to": "3.7.1"}}),
		job,
	}
	h := newHarness(t, steps)
	got := h.withOutputs()
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, []recordIn{{Label: "job", Version: "3.7.1", Env: map[string]string{"KEEP": "x", "FROM": "3.6.2"}}}, *got)
	require.Equal(t, map[string]string{"from": "3.6.2", "to": "3.7.1"}, st.Step("read-versions/job").Outputs,
		"status shows what a step published")
}

// A producer skipped by an operator leaves its consumer without a value:
// the consumer pauses with the reason instead of running with an empty one.
func TestMissingOutputPausesTheConsumer(t *testing.T) {
	use := record("use", recordIn{Label: "use"})
	use.Inputs = map[string]runbook.From{"version": {Step: "wait", Output: "version"}}
	other := record("other", recordIn{Label: "other"})
	other.Inputs = map[string]runbook.From{"version": {Step: "read", Output: "nope"}}
	h := newHarness(t, []runbook.Step{flaky("wait"), produce("read", produceIn{Outputs: map[string]string{"v": "1"}}), use, other})
	h.withOutputs()
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "wait", Action: runbook.ActionSkip, By: "op", Comment: "by hand"})
	})
	h.at(2*time.Minute, func() {
		st := h.status()
		s := st.Step("use")
		require.Equal(t, runbook.StepFailedAwaiting, s.State)
		require.Contains(t, s.LastError, "version (from wait.version, which is skipped)")
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "use", Action: runbook.ActionSkip, By: "op", Comment: "not needed"})
	})
	h.at(3*time.Minute, func() {
		st := h.status()
		s := st.Step("other")
		require.Equal(t, runbook.StepFailedAwaiting, s.State)
		require.Contains(t, s.LastError, "read published only v")
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "other", Action: runbook.ActionAbort, By: "op", Comment: "guide bug"})
	})
	_, err := h.run()
	require.ErrorContains(t, err, "op aborted the upgrade at step other")
	require.Zero(t, h.calls["use"])
	require.Zero(t, h.calls["other"])
}

// reregister expands the plugins list into one step per plugin; plugin "b"
// fails until told otherwise.
func reregister(sideBySide bool) runbook.Step {
	return runbook.Step{Name: "reregister-plugin", Kind: runbook.KindHTTP, Summary: "re-register each running plugin",
		Expand: &runbook.Expand{From: "list-plugins", SideBySide: sideBySide, Build: func(item string) runbook.Step {
			if item == "b" {
				return runbook.Step{Name: "reregister-plugin/" + item, Kind: runbook.KindHTTP, Summary: "re-register " + item,
					Activity: "Flaky", Input: workIn{Label: item}}
			}
			s := record("reregister-plugin/"+item, recordIn{Label: item})
			s.Inputs = map[string]runbook.From{"version": {Step: "list-plugins", Output: "platform"}}
			return s
		}}}
}

func expansionPlan(sideBySide bool) []runbook.Step {
	return []runbook.Step{
		produce("list-plugins", produceIn{Items: []string{"a", "b", "c"}, Outputs: map[string]string{"platform": "4.1"}}),
		reregister(sideBySide),
		work("after"),
	}
}

func TestExpansionRunsOneStepPerItemInOrder(t *testing.T) {
	h := newHarness(t, expansionPlan(false))
	got := h.withOutputs()
	h.at(time.Minute, func() {
		st := h.status()
		var names []string
		for _, s := range st.Steps {
			names = append(names, s.Name)
		}
		require.Equal(t, []string{"list-plugins", "reregister-plugin", "reregister-plugin/a", "reregister-plugin/b",
			"reregister-plugin/c", "after"}, names, "expanded steps appear after their placeholder")
		require.Equal(t, "reregister-plugin", st.Step("reregister-plugin/b").Parent)
		require.Equal(t, runbook.StepDone, st.Step("reregister-plugin/a").State)
		require.Equal(t, runbook.StepFailedAwaiting, st.Step("reregister-plugin/b").State)
		require.Equal(t, runbook.StepPending, st.Step("reregister-plugin/c").State, "in order: c waits for b")
		require.Equal(t, "reregister-plugin/b", st.CurrentStep)
		h.flakyOK = true
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "reregister-plugin/b", Action: runbook.ActionRetry, By: "op"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, []recordIn{{Label: "a", Version: "4.1"}, {Label: "c", Version: "4.1"}}, *got)
	require.Equal(t, runbook.StepDone, st.Step("reregister-plugin").State)
	require.Equal(t, "3 steps from list-plugins: 3 done", st.Step("reregister-plugin").Result)
	require.Equal(t, 1, h.calls["after"])
}

func TestExpansionSideBySide(t *testing.T) {
	h := newHarness(t, expansionPlan(true))
	h.withOutputs()
	h.at(time.Minute, func() {
		st := h.status()
		require.Equal(t, runbook.StepDone, st.Step("reregister-plugin/a").State)
		require.Equal(t, runbook.StepFailedAwaiting, st.Step("reregister-plugin/b").State)
		require.Equal(t, runbook.StepDone, st.Step("reregister-plugin/c").State, "side by side: c does not wait for b")
		require.Zero(t, h.calls["after"])
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "reregister-plugin/b", Action: runbook.ActionSkip, By: "op", Comment: "plugin retired"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, "3 steps from list-plugins: 2 done, 1 skipped", st.Step("reregister-plugin").Result)
	require.Equal(t, 1, h.calls["after"])
}

func TestExpansionOfAnEmptyListIsDone(t *testing.T) {
	plan := expansionPlan(false)
	plan[0] = produce("list-plugins", produceIn{})
	h := newHarness(t, plan)
	h.withOutputs()
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.StepDone, st.Step("reregister-plugin").State)
	require.Len(t, st.Steps, 3)
}

// An item that makes a bad step name pauses the placeholder: the list came
// from the platform, so the operator sees which item.
func TestExpansionRefusesBadNames(t *testing.T) {
	plan := expansionPlan(false)
	plan[0] = produce("list-plugins", produceIn{Items: []string{"ok", "Bad Name"}})
	h := newHarness(t, plan)
	h.withOutputs()
	h.at(time.Minute, func() {
		st := h.status()
		s := st.Step("reregister-plugin")
		require.Equal(t, runbook.StepFailedAwaiting, s.State)
		require.Contains(t, s.LastError, `item "Bad Name" gives step name "reregister-plugin/Bad Name"`)
		h.updateOK(runbook.UpdateDecide, runbook.Decision{Step: "reregister-plugin", Action: runbook.ActionSkip, By: "op", Comment: "by hand"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.StepSkipped, st.Step("reregister-plugin").State)
	require.Zero(t, h.calls["ok"])
}

func TestPlanValidationOfOutputsAndExpansions(t *testing.T) {
	early := record("early", recordIn{Label: "early"})
	early.Inputs = map[string]runbook.From{"version": {Step: "read", Output: "v"}}
	sameGroup := record("same-group", recordIn{})
	sameGroup.Parallel, sameGroup.Inputs = "g", map[string]runbook.From{"version": {Step: "read-g", Output: "v"}}
	readG := produce("read-g", produceIn{})
	readG.Parallel = "g"
	noField := record("no-field", recordIn{})
	noField.Inputs = map[string]runbook.From{"release": {Step: "read", Output: "v"}, "count": {Step: "read", Output: "v"}}
	badTemplate := runbook.Step{Name: "per-item", Expand: &runbook.Expand{From: "read", Build: func(item string) runbook.Step {
		return runbook.Step{Name: "other/" + item, Kind: runbook.KindGate, Gate: &runbook.Gate{Prompt: "ok?", RemindAfter: time.Minute}}
	}}}
	expandLater := runbook.Step{Name: "per-later", Expand: &runbook.Expand{From: "later", Build: func(item string) runbook.Step {
		return record("per-later/"+item, recordIn{})
	}}}
	err := runbook.ValidatePlan([]runbook.Step{early, produce("read", produceIn{}), readG, sameGroup, noField,
		badTemplate, expandLater, produce("later", produceIn{})})
	require.Error(t, err)
	for _, want := range []string{
		`step 1 (early): input version is taken from "read", which is not an earlier step`,
		`step 4 (same-group): input version is taken from "read-g", which runs side by side with it (parallel g)`,
		`step 5 (no-field): input release: runbook_test.recordIn has no field "release" (JSON names: label, version, env, count)`,
		`step 5 (no-field): input count: is a int; an output is a string`,
		`expanded step other/<item>: name must start with per-item/`,
		`reminders must be at least 5m0s apart`,
		`step 7 (per-later): expands the items of "later", which is not an earlier step`,
	} {
		require.Contains(t, err.Error(), want)
	}
}
