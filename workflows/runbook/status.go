package runbook

import (
	"encoding/json"
	"upgrader/internal/contract"

	"go.temporal.io/sdk/temporal"
)

// Names of the handlers every guide workflow registers. The starter and
// plain `temporal workflow …` users call them by these names.
const (
	// QueryStatus returns a RunStatus.
	QueryStatus = "status"
	// QueryConfig returns the config the run uses now (the guide's input,
	// corrected configs applied), for `starter decide … --config` to diff.
	QueryConfig = "config"
	// UpdateApprove takes an Approval for a step waiting at its gate; it is
	// validated before it is accepted into history.
	UpdateApprove = "approve"
	// UpdateDecide takes a Decision for a step that failed.
	UpdateDecide = "decide"
	// SignalApprove and SignalDecide carry the same payloads for callers
	// that can only signal; an invalid signal is logged and recorded as a
	// notice instead of being rejected.
	SignalApprove = "approve"
	SignalDecide  = "decide"
)

// Typed search attributes upserted by every guide so runs can be filtered in
// the Web UI (`UpgradeState = "waiting-approval"`). They must be registered
// on the namespace; the dev server started by the starter does so.
var (
	AttrGuide       = temporal.NewSearchAttributeKeyKeyword("UpgradeGuide")
	AttrFrom        = temporal.NewSearchAttributeKeyKeyword("UpgradeFrom")
	AttrTo          = temporal.NewSearchAttributeKeyKeyword("UpgradeTo")
	AttrEnvironment = temporal.NewSearchAttributeKeyKeyword("UpgradeEnvironment")
	AttrStep        = temporal.NewSearchAttributeKeyKeyword("UpgradeStep")
	AttrState       = temporal.NewSearchAttributeKeyKeyword("UpgradeState")
)

// SearchAttributeKeys lists every key above, for registering them.
func SearchAttributeKeys() []temporal.SearchAttributeKeyKeyword {
	return []temporal.SearchAttributeKeyKeyword{AttrGuide, AttrFrom, AttrTo, AttrEnvironment, AttrStep, AttrState}
}

// Approval answers a gate. Reject with a comment to stop (or, for an
// optional step, skip) instead of going on.
type Approval struct {
	Step   string `json:"step"`
	Reject bool   `json:"reject,omitempty"`
	// By is who answers: Who's name. A caller that sends only By (a plain
	// `temporal workflow update`) is recorded as claimed, unverified.
	By string `json:"by"`
	// Who is the answering person's identity as the starter found it.
	Who     *Identity `json:"who,omitempty"`
	Comment string    `json:"comment,omitempty"`
	// Ack acknowledges a required step's warning (Step.Required.ID): a
	// rejection that skips a required step needs it.
	Ack string `json:"ack,omitempty"`
	// Config, when set, is a corrected config (the guide's input as JSON)
	// for the steps not done yet; see Decision.Config.
	Config json.RawMessage `json:"config,omitempty"`
}

// Decision answers a failed step.
type Decision struct {
	Step   string `json:"step"`
	Action Action `json:"action"`
	// By and Who: as in Approval.
	By      string    `json:"by"`
	Who     *Identity `json:"who,omitempty"`
	Comment string    `json:"comment,omitempty"`
	// Ack acknowledges a required step's warning (Step.Required.ID): skip
	// of a required step needs it.
	Ack string `json:"ack,omitempty"`
	// Config, with retry, is a corrected config (the guide's input as
	// JSON). It is validated as a whole as at start; the retried step and
	// every later one use it, steps already done keep their results. It is
	// refused when it would change a step that has started.
	Config json.RawMessage `json:"config,omitempty"`
	// Rollback, with abort, runs the undo steps of every step done (latest
	// first) before the run ends, rolled back. It is refused once the
	// plan's point of no return (Step.NoReturn) has started.
	Rollback bool `json:"rollback,omitempty"`
}

// Outcome is the shape every activity result shares (contract.Outcome).
type Outcome = contract.Outcome
