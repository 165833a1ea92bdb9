package runbook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/workflows/runbook"
)

func person(name string) *runbook.Identity {
	return &runbook.Identity{Name: name, Source: runbook.IdentityOSUser}
}

func certPerson(name string) *runbook.Identity {
	return &runbook.Identity{Name: name, Subject: "CN=" + name + ",O=ops", Source: runbook.IdentityMTLS, Verified: true}
}

func destructiveGate(name string) runbook.Step {
	g := gate(name)
	g.Gate.Destructive = true
	return g
}

// TestSkipOfARequiredStepNeedsTheWarningAcknowledged: a required step that
// failed is skipped only by a decision that names its warning; a skip
// without a comment, or with the wrong or a needless --ack, is refused and
// nothing lands in the run. Every decision is recorded with who, when, why
// and the step, in status and in the memo.
func TestSkipOfARequiredStepNeedsTheWarningAcknowledged(t *testing.T) {
	migrate := flaky("follow-log/migration")
	migrate.Required = &runbook.Warning{ID: "migration-exception", Text: "with an exception the upgrade cannot go on"}
	tgt := target
	tgt.StartedBy = person("olga")
	h := newHarnessFor(t, tgt, []runbook.Step{migrate, flaky("wait-up/iam"), work("after")})
	h.at(time.Minute, func() {
		d := runbook.Decision{Step: "follow-log/migration", Action: runbook.ActionSkip, By: "pat", Who: person("pat")}
		h.updateErr(runbook.UpdateDecide, d, "skip needs a comment")
		d.Comment = "the vendor says the exception is harmless"
		h.updateErr(runbook.UpdateDecide, d, "follow-log/migration is required; the guide warns: with an exception the upgrade cannot go on. "+
			"To skip it anyway, acknowledge the warning in the same call with --ack migration-exception")
		d.Ack = "migration"
		h.updateErr(runbook.UpdateDecide, d, `--ack "migration" is not its warning`)
		h.updateErr(runbook.UpdateDecide, runbook.Decision{Step: "follow-log/migration", Action: runbook.ActionAbort, By: "pat",
			Who: person("pat"), Comment: "x", Ack: "migration-exception"}, "acknowledges nothing here")
		d.Ack = "migration-exception"
		h.updateOK(runbook.UpdateDecide, d)
	})
	h.at(2*time.Minute, func() {
		// Not required: a skip with a comment is enough; by signal too.
		h.env.SignalWorkflow(runbook.SignalDecide, runbook.Decision{Step: "wait-up/iam", Action: runbook.ActionSkip,
			By: "quinn", Comment: "checked by hand"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.StepSkipped, st.Step("follow-log/migration").State)
	require.Equal(t, runbook.StepSkipped, st.Step("wait-up/iam").State)
	require.Equal(t, "olga", st.StartedBy.Name)
	require.Len(t, st.Decisions, 2, "only accepted answers are recorded")
	d := st.Decisions[0]
	require.Equal(t, []string{"skip", "follow-log/migration", "pat", runbook.IdentityOSUser, "migration-exception", "update"},
		[]string{d.Action, d.Step, d.By, d.Who.Source, d.Ack, d.Via})
	require.False(t, d.Who.Verified)
	require.False(t, d.At.IsZero())
	s := st.Decisions[1]
	require.Equal(t, []string{"skip", "wait-up/iam", "quinn", runbook.IdentityClaimed, "signal"},
		[]string{s.Action, s.Step, s.By, s.Who.Source, s.Via}, "a bare name is recorded as claimed")
	lines := h.lastMemo["decisions"].([]string)
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], "skip follow-log/migration by pat (OS user, unverified) acknowledging migration-exception: the vendor says")
	require.Contains(t, lines[1], "skip wait-up/iam by quinn (claimed, unverified) (signal): checked by hand")
}

// TestRejectThatSkipsARequiredStepNeedsTheAck: rejecting an optional gate
// skips its step; for a required step that needs the acknowledgement too.
func TestRejectThatSkipsARequiredStepNeedsTheAck(t *testing.T) {
	call := work("devops-data-fix")
	call.Gate = &runbook.Gate{Prompt: "call the repair API?", SkipOnReject: true}
	call.Required = &runbook.Warning{ID: "data-fix", Text: "without the repair the data stays half migrated"}
	h := newHarness(t, []runbook.Step{call})
	h.at(time.Minute, func() {
		a := runbook.Approval{Step: "devops-data-fix", Reject: true, By: "rae", Comment: "done by hand"}
		h.updateErr(runbook.UpdateApprove, a, "To reject it anyway, acknowledge the warning in the same call with --ack data-fix")
		a.Ack = "data-fix"
		h.updateOK(runbook.UpdateApprove, a)
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.StepSkipped, st.Step("devops-data-fix").State)
	require.Equal(t, "data-fix", st.Decisions[0].Ack)
}

// TestTheStarterOfARunMayNotApproveItsDestructiveGate: who started the run
// is recorded; the same person cannot approve a destructive gate (may
// reject it, may approve an ordinary one); another person can.
func TestTheStarterOfARunMayNotApproveItsDestructiveGate(t *testing.T) {
	tgt := target
	tgt.StartedBy = certPerson("olga")
	h := newHarnessFor(t, tgt, []runbook.Step{gate("approve/ssh"), destructiveGate("approve/delete"), work("delete")})
	h.at(time.Minute, func() {
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/ssh", By: "olga", Who: person("olga")})
	})
	h.at(2*time.Minute, func() {
		st := h.status()
		require.True(t, st.Step("approve/delete").Destructive)
		h.updateErr(runbook.UpdateApprove, runbook.Approval{Step: "approve/delete", By: "olga", Who: person("OLGA")},
			"OLGA (OS user, unverified) started this run and may not approve its destructive step approve/delete: another person must")
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/delete", By: "pat", Who: certPerson("pat"), Comment: "dump checked"})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, "pat", st.Step("approve/delete").Approval.By)
	require.True(t, st.Step("approve/delete").Approval.Who.Verified)
	require.Equal(t, "olga (mTLS CN=olga,O=ops)", st.StartedBy.String())
	require.Equal(t, 1, h.calls["delete"])
	require.Equal(t, "olga (mTLS CN=olga,O=ops)", h.lastMemo["startedBy"])
}

// TestApproverListsDecideWhoAnswersAGate: a gate's own list first, then
// destructive, then default; allowSelfApproval lets the starter approve a
// destructive gate.
func TestApproverListsDecideWhoAnswersAGate(t *testing.T) {
	tgt := target
	tgt.StartedBy = person("olga")
	tgt.Approvers = &runbook.Approvers{Default: []string{"pat"}, Destructive: []string{"olga", "dba"},
		Gates: map[string][]string{"approve/ssh": {"netops"}}, AllowSelfApproval: true}
	h := newHarnessFor(t, tgt, []runbook.Step{gate("approve/ssh"), gate("approve/front"), destructiveGate("approve/delete")})
	h.at(time.Minute, func() {
		h.updateErr(runbook.UpdateApprove, runbook.Approval{Step: "approve/ssh", By: "pat", Who: person("pat")},
			"pat (OS user, unverified) may not answer step approve/ssh: the run's config says who may (approvers.gates.approve/ssh: netops)")
		h.updateErr(runbook.UpdateApprove, runbook.Approval{Step: "approve/ssh", Reject: true, Comment: "no", By: "pat", Who: person("pat")},
			"may not answer step approve/ssh")
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/ssh", By: "netops", Who: person("netops")})
	})
	h.at(2*time.Minute, func() {
		h.updateErr(runbook.UpdateApprove, runbook.Approval{Step: "approve/front", By: "netops", Who: person("netops")},
			"(approvers.default: pat)")
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/front", By: "pat", Who: person("pat")})
	})
	h.at(3*time.Minute, func() {
		h.updateErr(runbook.UpdateApprove, runbook.Approval{Step: "approve/delete", By: "pat", Who: person("pat")},
			"(approvers.destructive: olga, dba)")
		h.updateOK(runbook.UpdateApprove, runbook.Approval{Step: "approve/delete", By: "olga", Who: person("olga")})
	})
	st, err := h.run()
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)
	var who []string
	for _, d := range st.Decisions {
		who = append(who, d.Step+"="+d.By)
	}
	require.Equal(t, "approve/ssh=netops approve/front=pat approve/delete=olga", strings.Join(who, " "))
}

func TestApproversNameGatesOfThePlan(t *testing.T) {
	tgt := target
	tgt.Approvers = &runbook.Approvers{Gates: map[string][]string{"approve/delete": {"pat"}, "delete": {"pat"}}}
	err := runbook.CheckApprovers(tgt, []runbook.Step{destructiveGate("approve/delete"), work("delete")})
	require.ErrorContains(t, err, "approvers.gates.delete: the plan has no gate delete; its gates: approve/delete")
	require.NotContains(t, err.Error(), "approvers.gates.approve/delete")
}

func TestRequiredWarningsAreCheckedWithThePlan(t *testing.T) {
	s := work("backup")
	s.Required = &runbook.Warning{ID: "Back Up", Text: " "}
	err := runbook.ValidatePlan([]runbook.Step{s})
	require.ErrorContains(t, err, "required warning needs an ID of lower-case letters")
	require.ErrorContains(t, err, "required warning has no text")
}
