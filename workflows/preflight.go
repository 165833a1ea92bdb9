package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"upgrader/internal/contract"
	"upgrader/workflows/runbook"
)

// PreflightWorkflowType is the Temporal type of the Preflight workflow.
const PreflightWorkflowType = "Preflight"

// PreflightPrefix starts the name of every read-only check a guide runs
// before it changes anything. `starter preflight` runs exactly these steps;
// the upgrade runs the same ones first and pauses before any change when
// one fails.
const PreflightPrefix = "preflight/"

// PreflightInput names a guide and carries its config (the same JSON the
// upgrade workflow takes: secret names only, never values).
type PreflightInput struct {
	Guide  string          `json:"guide"`
	Config json.RawMessage `json:"config"`
}

// PreflightReport is what a preflight found: one row per thing checked.
type PreflightReport struct {
	Guide       string           `json:"guide"`
	Environment string           `json:"environment"`
	From        string           `json:"from"`
	To          string           `json:"to"`
	Steps       []string         `json:"steps"`
	Checks      []contract.Check `json:"checks"`
}

// Failed counts the failed checks.
func (r PreflightReport) Failed() int { return len(contract.Failed(r.Checks)) }

// PreflightWorkflowID is the ID of a guide's preflight for one environment.
func PreflightWorkflowID(guide, environment string) string {
	return "preflight/" + guide + "/" + environment
}

// PreflightSteps are a plan's read-only checks: its steps named preflight/*.
func PreflightSteps(plan []runbook.Step) []runbook.Step {
	var out []runbook.Step
	for _, s := range plan {
		if strings.HasPrefix(s.Name, PreflightPrefix) && s.Activity != nil {
			out = append(out, s)
		}
	}
	return out
}

// Preflight runs a guide's read-only checks (its preflight/* steps, built
// by the same Plan the upgrade runs) side by side on the worker, which holds
// the credentials and the network, and reports every finding: nothing
// stops at the first failure, and nothing waits for a person. Each check
// runs once; a check that fails to run is a failed row saying why.
func Preflight(ctx workflow.Context, in PreflightInput) (PreflightReport, error) {
	// Lookup's map is filled at init and read only; its error path sorts.
	//workflowcheck:ignore
	spec, err := Lookup(in.Guide)
	if err != nil {
		return PreflightReport{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrInvalidInput, nil)
	}
	cfg := spec.NewInput()
	//workflowcheck:ignore
	if err := json.Unmarshal(in.Config, cfg); err != nil {
		return PreflightReport{}, temporal.NewNonRetryableApplicationError("config: "+err.Error(), contract.ErrInvalidInput, nil)
	}
	plan, err := cfg.Plan()
	if err != nil {
		return PreflightReport{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrInvalidInput, nil)
	}
	t := cfg.GetTarget()
	rep := PreflightReport{Guide: spec.Name, Environment: t.Environment, From: t.From, To: t.To}
	steps := PreflightSteps(plan)
	futures := make([]workflow.Future, len(steps))
	for i, s := range steps {
		rep.Steps = append(rep.Steps, s.Name)
		opts := preflightOptions(s)
		// Each check runs where the upgrade's step would: its site's worker.
		_, opts.TaskQueue = runbook.QueueOf(t.Sites, plan, s)
		futures[i] = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), s.Activity, s.Input)
	}
	for i, f := range futures {
		var out contract.Outcome
		err := f.Get(ctx, &out)
		rep.Checks = append(rep.Checks, checksOf(steps[i], out, err)...)
	}
	return rep, nil
}

// preflightOptions are a check's activity options for a preflight: its
// declared heartbeat and timeout, one try (a preflight reports what it sees
// now; the operator runs it again after a fix).
func preflightOptions(s runbook.Step) workflow.ActivityOptions {
	d := runbook.KindDefaults[s.Kind]
	if o, ok := contract.Declared(s.Activity); ok {
		if o.Timeout > 0 {
			d.Timeout = o.Timeout
		}
		d.Heartbeat = o.Heartbeat
	}
	if s.Timeout > 0 {
		d.Timeout = s.Timeout
	}
	if d.Timeout <= 0 {
		d.Timeout = 2 * time.Minute
	}
	return workflow.ActivityOptions{ActivityID: s.Name, Summary: s.Name, StartToCloseTimeout: d.Timeout,
		HeartbeatTimeout: d.Heartbeat, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}}
}

// checksOf turns one check step's result into rows: its own Checks when it
// reports them (also when it failed: a failing check carries its findings
// in the failure's details), else one row from its summary or its error.
func checksOf(s runbook.Step, out contract.Outcome, err error) []contract.Check {
	name := strings.TrimPrefix(s.Name, PreflightPrefix)
	if err == nil {
		if len(out.Checks) > 0 {
			return out.Checks
		}
		return []contract.Check{{Check: name, Target: "-", Result: contract.Pass, Found: out.Summary}}
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		var details contract.Outcome
		if app.HasDetails() && app.Details(&details) == nil && len(details.Checks) > 0 {
			return details.Checks
		}
		found, fix := splitFix(app.Error())
		return []contract.Check{{Check: name, Target: "-", Result: contract.Fail, Found: found, Fix: fix}}
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		return []contract.Check{{Check: name, Target: "-", Result: contract.Fail,
			Found: fmt.Sprintf("the check did not finish (%s timeout)", to.TimeoutType()),
			Fix:   "check that the worker is running and reaches the site; run the preflight again"}}
	}
	found, fix := splitFix(err.Error())
	return []contract.Check{{Check: name, Target: "-", Result: contract.Fail, Found: found, Fix: fix}}
}

// splitFix splits an activity's message, "what is wrong; what to do", at
// its first "; ".
func splitFix(msg string) (found, fix string) {
	if i := strings.Index(msg, "; "); i > 0 {
		return msg[:i], msg[i+2:]
	}
	return msg, "read the message; fix it and run the preflight again"
}
