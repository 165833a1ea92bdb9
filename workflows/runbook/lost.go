package runbook

import (
	"encoding/json"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// MaxWorkerLost bounds the tries a step starts by itself after a lost
// worker. A worker that dies (SIGKILL, OOM, a node drained) is noticed when
// its heartbeats stop: Temporal's attempt times out with a heartbeat
// timeout, and each such attempt uses one of the kind's attempts. Steps that
// run side by side die together, so a few kills aimed at other steps would
// use up a step's attempts and pause it for a person, who could do nothing
// but retry. A try whose last attempt ended with a heartbeat timeout is
// therefore followed by a new try without a person, up to this many times
// per step; then the step pauses as any failure does.
const MaxWorkerLost = 10

// versionWorkerLost marks runs that start a new try after a lost worker;
// histories recorded before paused there, and replay them that way.
const versionWorkerLost = "worker-lost-new-try"

// workerLost says whether step i's failed try err lost its worker (its last
// attempt timed out on heartbeats) and a new try is to start by itself. It
// records the loss in the step's status and returns the lost try's last
// heartbeat details (JSON; nil when it left none), for the new try.
func (r *runner) workerLost(ctx workflow.Context, i int, err error) (bool, []byte) {
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) || timeout.TimeoutType() != enumspb.TIMEOUT_TYPE_HEARTBEAT {
		return false, nil
	}
	st := &r.status.Steps[i]
	if st.WorkerLost >= MaxWorkerLost {
		return false, nil
	}
	if workflow.GetVersion(ctx, versionWorkerLost, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false, nil
	}
	st.WorkerLost++
	if n := len(st.Tries); n > 0 {
		st.Tries[n-1].WorkerLost = true
	}
	st.LastError = fmt.Sprintf("worker lost %d times (try %d: %s); try %d started by itself, at most %d times per step",
		st.WorkerLost, st.Attempts, describe(err), st.Attempts+1, MaxWorkerLost)
	r.logger.Warn("worker lost; starting a new try", "step", r.steps[i].Name, "try", st.Attempts,
		"lost", st.WorkerLost, "error", describe(err))
	var details json.RawMessage
	if timeout.HasLastHeartbeatDetails() && timeout.LastHeartbeatDetails(&details) == nil && len(details) > 0 {
		return true, details
	}
	return true, nil
}
