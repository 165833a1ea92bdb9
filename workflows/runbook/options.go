package runbook

import (
	"upgrader/internal/contract"

	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Error types activities use for failures that no automatic retry can fix;
// they go straight to the operator (pause on failure).
const (
	ErrInvalidInput   = contract.ErrInvalidInput   // the step's input or config is wrong
	ErrSecretNotFound = contract.ErrSecretNotFound // a secret name is unknown to the worker
	ErrPrecondition   = contract.ErrPrecondition   // something the step needs is missing
	ErrNotRepeatable  = contract.ErrNotRepeatable  // a call that must not run twice may have run
)

// Defaults are one kind's activity options.
type Defaults struct {
	Timeout     time.Duration // StartToClose of one try
	Heartbeat   time.Duration // zero: the activity does not heartbeat
	MaxAttempts int32         // automatic tries before the operator is asked
}

// KindDefaults are the activity options each kind of step gets unless the
// activity declares its own beside its code (contract.Declare) or the step
// overrides them. The heartbeat timeouts here are only a fallback: an
// activity that heartbeats declares how often, next to the ticker.
var KindDefaults = map[Kind]Defaults{
	KindCheck:  {Timeout: 2 * time.Minute, MaxAttempts: 3},
	KindBackup: {Timeout: 30 * time.Minute, Heartbeat: time.Minute, MaxAttempts: 3},
	KindHelm:   {Timeout: 20 * time.Minute, Heartbeat: time.Minute, MaxAttempts: 3},
	KindKube:   {Timeout: 5 * time.Minute, MaxAttempts: 5},
	KindSQL:    {Timeout: 10 * time.Minute, MaxAttempts: 3},
	KindHost:   {Timeout: 30 * time.Minute, Heartbeat: time.Minute, MaxAttempts: 3},
	KindHTTP:   {Timeout: time.Minute, MaxAttempts: 5},
	KindWait:   {Timeout: 30 * time.Minute, Heartbeat: 30 * time.Second, MaxAttempts: 2},
}

// activityOptions builds the options of one try of a step. The activity ID
// carries the step name and the operator's try number, so the Web UI's event
// list reads like the guide.
func activityOptions(s Step, try int) workflow.ActivityOptions {
	d, ok := KindDefaults[s.Kind]
	if !ok {
		d = Defaults{Timeout: 10 * time.Minute, MaxAttempts: 3}
	}
	if s.Activity != nil {
		if o, ok := contract.Declared(s.Activity); ok {
			if o.Timeout > 0 {
				d.Timeout = o.Timeout
			}
			d.Heartbeat = o.Heartbeat
		}
	}
	if s.Timeout > 0 {
		d.Timeout = s.Timeout
	}
	if s.Heartbeat > 0 {
		d.Heartbeat = s.Heartbeat
	}
	if s.MaxAttempts > 0 {
		d.MaxAttempts = s.MaxAttempts
	}
	return workflow.ActivityOptions{
		ActivityID:          activityID(s.Name, try),
		Summary:             s.Display(),
		StartToCloseTimeout: d.Timeout,
		HeartbeatTimeout:    d.Heartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        d.MaxAttempts,
			NonRetryableErrorTypes: []string{ErrInvalidInput, ErrSecretNotFound, ErrPrecondition},
		},
	}
}

func activityID(step string, try int) string {
	return step + "#" + strconv.Itoa(try)
}
