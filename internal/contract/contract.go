// Package contract is what a step's activity and the runbook that runs it
// agree on: the result shape every activity shares, the error type names the
// runbook treats as permanent, and the activity options each activity
// declares beside its own code (heartbeat and timeout). It imports nothing of
// the project, so activities and workflows both depend on it and never on
// each other's internals.
package contract

import (
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Error types activities use for failures that no automatic retry can fix;
// they go straight to the operator (pause on failure).
const (
	ErrInvalidInput   = "InvalidInput"   // the step's input or config is wrong
	ErrSecretNotFound = "SecretNotFound" // a secret name is unknown to the worker
	ErrSecretMisuse   = "SecretMisuse"   // a secret was about to go where its worker config does not let it
	ErrPrecondition   = "Precondition"   // something the step needs is missing
	ErrNotRepeatable  = "NotRepeatable"  // a call that must not run twice may have run: a person checks
)

// Outcome is the shape every activity result shares: a one-line summary the
// runbook shows as the step's result. Activities embed it in their XResult.
type Outcome struct {
	Summary string `json:"summary,omitempty"`
	// Outputs are named values later steps may take as input at run time
	// (runbook.From). They hold no secret values, only secret names.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Items is a list output that can expand into one step per item.
	Items []string `json:"items,omitempty"`
	// Checks are the findings of a read-only check step (preflight/*), one
	// per thing checked: `starter preflight` prints them as a table.
	Checks []Check `json:"checks,omitempty"`
}

// Result is a check's verdict.
type Result string

// The verdicts of a check: fail stops a run before any change; warn is
// shown and lets it go on.
const (
	Pass Result = "pass"
	Warn Result = "warn"
	Fail Result = "fail"
)

// Check is one finding of a read-only check: what was checked, on what,
// the verdict, what was found, and (unless it passed) what to do.
type Check struct {
	Check  string `json:"check"`           // releases, mysql-grant, free-disk …
	Target string `json:"target"`          // agile-service, root@10.0.0.12:3306 …
	Result Result `json:"result"`          // pass, warn or fail
	Found  string `json:"found,omitempty"` // what was found: "chart 0.20.3", "no RELOAD"
	Fix    string `json:"fix,omitempty"`   // what to do; empty when it passed
}

// Failed lists the checks that failed.
func Failed(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if c.Result == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Options are the activity options an activity declares beside its code:
// how long one try may take and how often it heartbeats. The runbook uses
// them unless a step overrides them.
type Options struct {
	// Timeout bounds one try (StartToClose); zero keeps the kind's default.
	Timeout time.Duration
	// Heartbeat is the heartbeat timeout: the activity heartbeats at least
	// every Heartbeat/3 while it blocks, so a dead worker is noticed within
	// Heartbeat. Zero: the activity does not block long and never heartbeats.
	Heartbeat time.Duration
}

var (
	mu       sync.RWMutex
	declared = map[string]Options{}
)

// Declare records an activity's options under its name (the method name, as
// Temporal registers it). Activities call it in a package-level var beside
// the method that heartbeats:
//
//	var _ = contract.Declare((*Helm).UpgradeInstall, contract.Options{Heartbeat: 20 * time.Second})
func Declare(fn any, o Options) bool {
	mu.Lock()
	defer mu.Unlock()
	declared[Name(fn)] = o
	return true
}

// Declared returns the options an activity declared, if any.
func Declared(fn any) (Options, bool) {
	mu.RLock()
	defer mu.RUnlock()
	o, ok := declared[Name(fn)]
	return o, ok
}

// Name is an activity function's name as Temporal registers it: the method
// name alone, for a method expression ((*Helm).Upgrade) or a method value
// on a nil pointer ((*Helm)(nil).Upgrade) alike.
func Name(fn any) string {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return ""
	}
	full := runtime.FuncForPC(v.Pointer()).Name()
	full = strings.TrimSuffix(full, "-fm")
	if i := strings.LastIndex(full, "."); i >= 0 {
		full = full[i+1:]
	}
	return full
}
