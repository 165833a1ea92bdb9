package runbook

import (
	"go.temporal.io/sdk/workflow"
)

// Metrics the runbook records through the worker's metrics handler (the
// worker serves them on /metrics; Prometheus adds _total to counters and
// _seconds to timers). workflow.GetMetricsHandler records nothing while a
// workflow replays, so each transition is counted once, by the worker that
// made it.
const (
	// MetricSteps counts steps entering a state; tags guide, kind, state.
	MetricSteps = "upgrader_steps"
	// MetricStepDuration is how long a finished step took from its start
	// (its gate included) to its end; tags guide, kind, state.
	MetricStepDuration = "upgrader_step_duration"
	// MetricTries counts operator tries of steps' activities; tags guide, kind.
	MetricTries = "upgrader_step_tries"
	// MetricGateWait is how long a gate waited for a person; tag guide.
	MetricGateWait = "upgrader_gate_wait"
	// MetricRuns counts runs entering a state; tags guide, state.
	MetricRuns = "upgrader_runs"
)

// observeStep records step i moving from prev to s.
func (r *runner) observeStep(ctx workflow.Context, st *StepStatus, prev, s StepState) {
	if prev == s {
		return
	}
	m := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		"guide": r.guide.Name, "kind": string(st.Kind), "state": string(s)})
	m.Counter(MetricSteps).Inc(1)
	switch s {
	case StepRunning:
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"guide": r.guide.Name, "kind": string(st.Kind)}).
			Counter(MetricTries).Inc(1)
	case StepDone, StepSkipped, StepRejected, StepAborted:
		if !st.StartedAt.IsZero() {
			m.Timer(MetricStepDuration).Record(st.EndedAt.Sub(st.StartedAt))
		}
	}
	if prev == StepWaitingApproval && !st.StartedAt.IsZero() {
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"guide": r.guide.Name}).
			Timer(MetricGateWait).Record(workflow.Now(ctx).Sub(st.StartedAt))
	}
}

// observeRun records the run moving from prev to s.
func (r *runner) observeRun(ctx workflow.Context, prev, s RunState) {
	if prev == s {
		return
	}
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"guide": r.guide.Name, "state": string(s)}).
		Counter(MetricRuns).Inc(1)
}
