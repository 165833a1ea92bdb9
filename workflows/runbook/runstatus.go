package runbook

import "upgrader/internal/runstatus"

// The run's status types live in internal/runstatus, which the report
// activity and the starter read without importing the workflows; these
// names keep every guide and test reading them as runbook.X.

type (
	StepState      = runstatus.StepState
	RunState       = runstatus.RunState
	Target         = runstatus.Target
	Resume         = runstatus.Resume
	CarriedAnswer  = runstatus.CarriedAnswer
	Action         = runstatus.Action
	Answer         = runstatus.Answer
	ConfigChange   = runstatus.ConfigChange
	KeyChange      = runstatus.KeyChange
	TryStatus      = runstatus.TryStatus
	AttemptFailure = runstatus.AttemptFailure
	StepStatus     = runstatus.StepStatus
	RunStatus      = runstatus.RunStatus
	Identity       = runstatus.Identity
	Approvers      = runstatus.Approvers
	Site           = runstatus.Site
	Kind           = runstatus.Kind
	Warning        = runstatus.Warning
)

const (
	StepPending          = runstatus.StepPending
	StepWaitingApproval  = runstatus.StepWaitingApproval
	StepRunning          = runstatus.StepRunning
	StepFailedAwaiting   = runstatus.StepFailedAwaiting
	StepDone             = runstatus.StepDone
	StepSkipped          = runstatus.StepSkipped
	StepRejected         = runstatus.StepRejected
	StepAborted          = runstatus.StepAborted
	StepNotRunAfterAbort = runstatus.StepNotRunAfterAbort
	RunRunning           = runstatus.RunRunning
	RunWaitingApproval   = runstatus.RunWaitingApproval
	RunFailedAwaiting    = runstatus.RunFailedAwaiting
	RunCompleted         = runstatus.RunCompleted
	RunAborted           = runstatus.RunAborted
	RunRejected          = runstatus.RunRejected
	RunRollingBack       = runstatus.RunRollingBack
	RunRolledBack        = runstatus.RunRolledBack
	ActionRetry          = runstatus.ActionRetry
	ActionSkip           = runstatus.ActionSkip
	ActionAbort          = runstatus.ActionAbort
	IdentityMTLS         = runstatus.IdentityMTLS
	IdentityOSUser       = runstatus.IdentityOSUser
	IdentityClaimed      = runstatus.IdentityClaimed
	KindGate             = runstatus.KindGate
	KindCheck            = runstatus.KindCheck
	KindBackup           = runstatus.KindBackup
	KindHelm             = runstatus.KindHelm
	KindKube             = runstatus.KindKube
	KindSQL              = runstatus.KindSQL
	KindHost             = runstatus.KindHost
	KindHTTP             = runstatus.KindHTTP
	KindWait             = runstatus.KindWait
)
