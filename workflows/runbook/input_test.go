package runbook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"upgrader/workflows/runbook"
)

// testInput is a small guide's config, for the runbook's input-based
// features: corrected configs and continue-as-new.
type testInput struct {
	runbook.Target
	// Release is what the upgrade step works on; only "app-good" exists.
	Release     string        `json:"release"`
	RemindAfter time.Duration `json:"remindAfter,omitempty"`
	// Extra adds a step before the gate; Verify adds one at the end.
	Extra  bool `json:"extra,omitempty"`
	Verify bool `json:"verify,omitempty"`
	// Plugins, when set, adds a step listing them and one step per plugin.
	Plugins []string `json:"plugins,omitempty"`
	// AskVerify puts a gate (with reminders) on verify/app and runs it with
	// Flaky, so it fails until the test says otherwise.
	AskVerify bool `json:"askVerify,omitempty"`
	// AskPlugins puts a gate (with reminders) on each plugin's step.
	AskPlugins bool `json:"askPlugins,omitempty"`
	// Stall adds upgrade/stall, whose first Temporal attempt stops
	// heartbeating (see attempts_server_test.go).
	Stall bool `json:"stall,omitempty"`
}

var releaseName = regexp.MustCompile(`^[a-z0-9-]+$`)

func (in *testInput) GetTarget() *runbook.Target { return &in.Target }

func (in *testInput) Validate() error {
	if !releaseName.MatchString(in.Release) {
		return fmt.Errorf("invalid config:\n  - release: %q is not a release name (lower-case letters, digits, -)", in.Release)
	}
	return nil
}

// strictIn is the input of Strict, which fails for any release but app-good.
type strictIn struct {
	Label   string `json:"label"`
	Release string `json:"release"`
}

func (in *testInput) Plan() ([]runbook.Step, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	steps := []runbook.Step{work("preflight")}
	if in.PlanRevision == runbook.OriginalPlan {
		steps = []runbook.Step{work("preflight/original")} // a guide's plan before its first revision
	}
	if in.Stall {
		steps = append(steps, runbook.Step{Name: "upgrade/stall", Kind: runbook.KindHelm, Summary: "upgrade",
			Activity: "Stall", Input: workIn{Label: "stall"}, Heartbeat: 2 * time.Second, Timeout: time.Minute})
	}
	if len(in.Plugins) > 0 {
		steps = append(steps, produce("list-plugins", produceIn{Items: in.Plugins}), reregisterAll(in.AskPlugins, in.RemindAfter))
	}
	if in.Extra {
		steps = append(steps, work("extra/check"))
	}
	steps = append(steps,
		runbook.Step{Name: "approve/upgrade", Kind: runbook.KindGate, Summary: "a person agrees",
			Gate: &runbook.Gate{Prompt: "upgrade " + in.Release + "?", RemindAfter: in.RemindAfter}},
		runbook.Step{Name: "upgrade/app", Kind: runbook.KindHelm, Summary: "upgrade " + in.Release,
			Activity: "Strict", Input: strictIn{Label: "upgrade", Release: in.Release}},
		runbook.Step{Name: "verify/app", Kind: runbook.KindCheck, Summary: "verify " + in.Release,
			Activity: "Strict", Input: strictIn{Label: "verify", Release: in.Release}},
	)
	if in.AskVerify {
		v := flaky("verify/app")
		v.Gate = &runbook.Gate{Prompt: "verify?", RemindAfter: in.RemindAfter}
		steps[len(steps)-1] = v
	}
	if in.Verify {
		steps = append(steps, work("verify/extra"))
	}
	return steps, nil
}

// withInput registers the input-based workflow ("TestInputUpgrade") and
// Strict, which records "label:release" for every call.
func (h *harness) withInput(limit int) *[]string {
	calls := &[]string{}
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in strictIn) (runbook.Outcome, error) {
		*calls = append(*calls, in.Label+":"+in.Release)
		if in.Release != "app-good" {
			return runbook.Outcome{}, temporal.NewNonRetryableApplicationError(
				"release "+in.Release+" not found; fix release in the config", runbook.ErrPrecondition, nil)
		}
		return runbook.Outcome{Summary: in.Label + " " + in.Release}, nil
	}, activity.RegisterOptions{Name: "Strict"})
	h.limit = limit
	return calls
}

// registerInputWorkflow registers TestInputUpgrade, which runs a testInput
// with RunInput (newHarness calls it: workflows register before mocks).
func (h *harness) registerInputWorkflow() {
	h.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in testInput) (runbook.RunStatus, error) {
		g := guide
		if h.guide != nil {
			g = *h.guide
		}
		return inputWorkflowOf(ctx, g, in, h.limit)
	}, workflow.RegisterOptions{Name: "TestInputUpgrade"})
}

// inputWorkflow is a guide's one-line workflow body, as the guides write it.
func inputWorkflow(ctx workflow.Context, in testInput, limit int) (runbook.RunStatus, error) {
	return inputWorkflowOf(ctx, guide, in, limit)
}

func inputWorkflowOf(ctx workflow.Context, g runbook.Guide, in testInput, limit int) (runbook.RunStatus, error) {
	return runbook.RunInput(ctx, g, &in, runbook.Options{
		NewInput:     func() runbook.Input { return &testInput{} },
		HistoryLimit: limit,
	})
}

// runInput runs TestInputUpgrade to its end and checks the Updates sent.
func (h *harness) runInput(in testInput) (runbook.RunStatus, error) {
	h.env.ExecuteWorkflow("TestInputUpgrade", in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	for _, e := range h.expect {
		require.True(h.t, e.answered, "update %s was never answered", e.name)
		if e.want == "" {
			require.NoError(h.t, e.err, "update %s", e.name)
		} else {
			require.ErrorContains(h.t, e.err, e.want, "update %s", e.name)
		}
	}
	var st runbook.RunStatus
	err := h.env.GetWorkflowError()
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&st))
	}
	return st, err
}

// countEvents keeps a model of the run's history length — what the real
// server counts — and feeds it to GetInfo().GetCurrentHistoryLength(), which
// the test environment does not count by itself: 4 events to start (started,
// one workflow task), a timer 1 to start and 4 to fire (fired, a workflow
// task), 6 per activity, 1 per memo or search attribute upsert, 5 per Update.
func (h *harness) countEvents() *int {
	n := 4
	set := func(add int) {
		n += add
		h.env.SetCurrentHistoryLength(n)
	}
	h.env.SetOnTimerScheduledListener(func(string, time.Duration) { set(1) })
	h.env.SetOnTimerFiredListener(func(string) { set(4) })
	h.env.SetOnTimerCanceledListener(func(string) { set(1) })
	h.env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) { set(6) })
	h.onEvent = func() { set(1) }
	set(0)
	return &n
}

// continued returns the input a run continued as new with, if it did.
func continued(err error) (testInput, bool) {
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		return testInput{}, false
	}
	var in testInput
	if err := json.Unmarshal(can.Input.GetPayloads()[0].GetData(), &in); err != nil {
		panic(err)
	}
	return in, true
}

// reregisterAll runs Record once per plugin.
func reregisterAll(ask bool, remind time.Duration) runbook.Step {
	return runbook.Step{Name: "reregister-plugin", Requires: []string{"list-plugins"}, Expand: &runbook.Expand{From: "list-plugins",
		Build: func(item string) runbook.Step {
			s := record("reregister-plugin/"+item, recordIn{Label: item})
			if ask {
				s.Gate = &runbook.Gate{Prompt: "re-register " + item + "?", RemindAfter: remind}
			}
			return s
		}}}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
