package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"upgrader/internal/text"
	"upgrader/workflows/runbook"
)

func queryStatus(ctx context.Context, c client.Client, id string) (runbook.RunStatus, error) {
	var st runbook.RunStatus
	v, err := c.QueryWorkflow(ctx, id, "", runbook.QueryStatus)
	if err != nil {
		return st, fmt.Errorf("unable to read the status of %s: %w (is a worker running? `%s list` shows runs)", id, err, self())
	}
	return st, v.Get(&st)
}

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	var output string
	cmd := &cobra.Command{
		Use:     "status ID",
		Short:   "Show every step of a run: state, tries, times, errors, who answered",
		Example: "  starter status upgrade/demo/lab",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, _, err := g.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := queryStatus(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if asJSON || output == "json" {
				b, _ := converter.GetDefaultDataConverter().ToPayload(st)
				_, err := cmd.OutOrStdout().Write(append(b.GetData(), '\n'))
				return err
			}
			live, queue := liveRun(cmd.Context(), c, args[0])
			printStatus(cmd.OutOrStdout(), args[0], st, live, workerWaits(cmd.Context(), c, st, live, queue, time.Now()))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON (same as --output json)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json (for scripts)")
	return cmd
}

// printStatus prints a run's steps; waits says, by step, which worker a
// running step waits for (workerWaits).
func printStatus(w io.Writer, id string, st runbook.RunStatus, live map[string]*workflowpb.PendingActivityInfo, waits map[string]string) {
	fmt.Fprintf(w, "%s — %s (%s → %s on %s): %s", id, st.Title, st.Target.From, st.Target.To, st.Target.Environment, st.State)
	if st.Continued > 0 {
		fmt.Fprintf(w, " (continued as new %d times to keep its history short)", st.Continued)
	}
	if st.StartedBy != nil {
		fmt.Fprintf(w, "\nstarted by %s", st.StartedBy)
	}
	fmt.Fprint(w, "\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\t§\tSTEP\tSTATE\tTRIES\tSTARTED\tTOOK\tDETAIL")
	for i, s := range st.Steps {
		took := ""
		if !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
			took = s.EndedAt.Sub(s.StartedAt).Round(100 * time.Millisecond).String()
		}
		started := ""
		if !s.StartedAt.IsZero() {
			started = s.StartedAt.Local().Format("15:04:05")
		}
		detail := stepDetail(s)
		if wait := waits[s.Name]; wait != "" {
			detail = strings.TrimSuffix(wait+"; "+detail, "; ")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, s.Section, s.Name, s.State, tries(s), started, took, detail)
		for _, line := range attemptLines(s, live) {
			fmt.Fprintf(tw, "\t\t\t\t\t\t\t  %s\n", line)
		}
	}
	tw.Flush()
	for _, n := range st.Notices {
		fmt.Fprintf(w, "notice: %s\n", n)
	}
	if len(st.Decisions) > 0 {
		fmt.Fprintln(w, "\ndecisions (who, when, why):")
		for _, d := range st.Decisions {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
	if len(st.ConfigChanges) > 0 {
		fmt.Fprintln(w, "\nconfig corrected during the run:")
		for _, c := range st.ConfigChanges {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	printNext(w, id, st)
}

// tries is the TRIES column: operator tries, and Temporal's attempts when
// any try took more than one.
func tries(s runbook.StepStatus) string {
	var total int32
	more := false
	for _, t := range s.Tries {
		total += max(t.Attempts, 1)
		more = more || t.Attempts > 1
	}
	lost := ""
	if s.WorkerLost > 0 {
		lost = fmt.Sprintf(", worker lost %d×", s.WorkerLost)
	}
	if more {
		return fmt.Sprintf("%d (%d attempts%s)", s.Attempts, total, lost)
	}
	if lost != "" {
		return fmt.Sprintf("%d (%s)", s.Attempts, lost[2:])
	}
	return fmt.Sprint(s.Attempts)
}

// attemptLines says what Temporal did within each try that needed more
// than one attempt, and, for a step running now, which attempt runs and
// why the last one failed.
func attemptLines(s runbook.StepStatus, live map[string]*workflowpb.PendingActivityInfo) []string {
	var out []string
	for _, t := range s.Tries {
		if t.Attempts <= 1 && len(t.Failures) <= 1 {
			continue
		}
		var fails []string
		for _, f := range t.Failures {
			fails = append(fails, fmt.Sprintf("attempt %d: %s", f.Attempt, oneLine(f.Failure, 120)))
		}
		line := fmt.Sprintf("try %d: %d Temporal attempts", t.Try, t.Attempts)
		if len(fails) > 0 {
			line += " — " + strings.Join(fails, "; ")
		}
		out = append(out, line)
	}
	if p := live[s.Name+"#"+fmt.Sprint(s.Attempts)]; p != nil && s.State == runbook.StepRunning && p.GetAttempt() > 1 {
		line := fmt.Sprintf("now: attempt %d", p.GetAttempt())
		if m := p.GetMaximumAttempts(); m > 0 {
			line += fmt.Sprintf(" of %d", m)
		}
		if f := p.GetLastFailure(); f != nil {
			line += "; attempt " + fmt.Sprint(p.GetAttempt()-1) + " failed: " + oneLine(f.GetMessage(), 120)
		}
		out = append(out, line)
	}
	return out
}

// liveRun reads the activities running now, by activity ID (step#try):
// their attempt, state and the last failure Temporal kept; and the run's
// own task queue.
func liveRun(ctx context.Context, c client.Client, id string) (map[string]*workflowpb.PendingActivityInfo, string) {
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil, ""
	}
	out := map[string]*workflowpb.PendingActivityInfo{}
	for _, p := range desc.GetPendingActivities() {
		out[p.GetActivityId()] = p
	}
	return out, desc.GetExecutionConfig().GetTaskQueue().GetName()
}

func stepDetail(s runbook.StepStatus) string {
	var parts []string
	if s.Approval != nil {
		parts = append(parts, fmt.Sprintf("%sd by %s at %s", s.Approval.Action, answerBy(*s.Approval), s.Approval.At.Local().Format("15:04:05")))
	}
	for _, d := range s.Decisions {
		parts = append(parts, fmt.Sprintf("%s by %s", d.Action, answerBy(d)))
	}
	if s.Required != nil && s.State != runbook.StepDone {
		parts = append(parts, "required ("+s.Required.ID+")")
	}
	if s.Destructive && s.State == runbook.StepWaitingApproval {
		parts = append(parts, "destructive")
	}
	switch {
	case s.State == runbook.StepFailedAwaiting && s.LastError != "":
		parts = append(parts, "error: "+oneLine(s.LastError, 160))
	case s.State == runbook.StepWaitingApproval:
		parts = append(parts, "asks: "+oneLine(s.Prompt, 160))
	case s.Result != "":
		parts = append(parts, oneLine(s.Result, 120))
	}
	if len(s.Outputs) > 0 {
		var kv []string
		for _, k := range sortedKeys(s.Outputs) {
			kv = append(kv, k+"="+s.Outputs[k])
		}
		parts = append(parts, "outputs: "+oneLine(strings.Join(kv, " "), 120))
	}
	if len(s.Items) > 0 {
		parts = append(parts, "items: "+oneLine(strings.Join(s.Items, ", "), 120))
	}
	if s.Overdue {
		parts = append(parts, "OVERDUE")
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string, max int) string { return text.OneLine(s, max) }

// printNext prints the exact commands that answer a waiting run.
func printNext(w io.Writer, id string, st runbook.RunStatus) {
	for _, s := range st.Waiting() {
		switch s.State {
		case runbook.StepWaitingApproval:
			fmt.Fprintf(w, "\n%s waits for approval: %s\n  approve: %s approve %s %s --comment \"…\"\n  reject:  %s approve %s %s --reject --comment \"why\"\n",
				s.Name, s.Prompt, self(), id, s.Name, self(), id, s.Name)
		case runbook.StepFailedAwaiting:
			skip := ""
			if s.Required != nil {
				skip = " --ack " + s.Required.ID
			}
			fmt.Fprintf(w, "\n%s failed: %s\n  retry: %s decide %s %s retry [--config FIXED.yaml]\n  skip:  %s decide %s %s skip%s --comment \"why\"\n  abort: %s decide %s %s abort --comment \"why\"\n",
				s.Name, s.LastError, self(), id, s.Name, self(), id, s.Name, skip, self(), id, s.Name)
			if why := rollbackRefusal(st); why == "" && st.State != runbook.RunRollingBack && hasUndo(st) {
				fmt.Fprintf(w, "  abort and roll back: %s decide %s %s abort --rollback --comment \"why\"\n", self(), id, s.Name)
			}
			if s.Required != nil {
				fmt.Fprintf(w, "  (required: %s)\n", s.Required.Text)
			}
		}
	}
}

type watchOptions struct {
	// untilWaiting returns as soon as the run waits for a person.
	untilWaiting bool
	// onWaiting, when set, is called once for each newly waiting step.
	onWaiting func(runbook.StepStatus) error
	interval  time.Duration
}

// watchRun prints each step as it changes state, until the run ends (or,
// with untilWaiting, waits for a person).
func watchRun(ctx context.Context, c client.Client, id string, w io.Writer, o watchOptions) error {
	if o.interval == 0 {
		o.interval = 500 * time.Millisecond
	}
	seen := map[string]string{}
	asked := map[string]bool{}
	for {
		desc, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return fmt.Errorf("unable to describe %s: %w", id, err)
		}
		closed := desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		st, qerr := queryStatus(ctx, c, id)
		if qerr == nil {
			for _, s := range st.Steps {
				key := string(s.State) + fmt.Sprint(s.Attempts)
				if seen[s.Name] == key {
					continue
				}
				if _, known := seen[s.Name]; !known && s.State == runbook.StepPending {
					seen[s.Name] = key
					continue
				}
				seen[s.Name] = key
				line := fmt.Sprintf("%s  %-40s %s", time.Now().Format("15:04:05"), s.Name, s.State)
				if s.State == runbook.StepRunning && s.Attempts > 1 {
					line += fmt.Sprintf(" (try %d)", s.Attempts)
				}
				if d := stepDetail(s); d != "" && s.State != runbook.StepRunning {
					line += "  " + d
				}
				fmt.Fprintln(w, line)
				if s.State == runbook.StepWaitingApproval || s.State == runbook.StepFailedAwaiting {
					printNext(w, id, runbook.RunStatus{Steps: []runbook.StepStatus{s}})
					if o.onWaiting != nil && !asked[s.Name+key] {
						asked[s.Name+key] = true
						if err := o.onWaiting(s); err != nil {
							return err
						}
					}
				}
			}
			if o.untilWaiting && len(st.Waiting()) > 0 {
				return nil
			}
		}
		if closed {
			return finalResult(ctx, c, id, w)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.interval):
		}
	}
}

// finalResult reports how a closed run ended.
func finalResult(ctx context.Context, c client.Client, id string, w io.Writer) error {
	var st runbook.RunStatus
	err := c.GetWorkflow(ctx, id, "").Get(ctx, &st)
	if err != nil {
		return fmt.Errorf("%s ended: %w", id, err)
	}
	fmt.Fprintf(w, "%s %s: %d steps\n", id, st.State, len(st.Steps))
	return nil
}

func newWatchCmd(g *globals) *cobra.Command {
	var untilWaiting bool
	cmd := &cobra.Command{
		Use:     "watch ID",
		Short:   "Follow a run live until it ends or waits for a person",
		Example: "  starter watch upgrade/demo/lab",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := g.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			return watchRun(cmd.Context(), c, args[0], cmd.OutOrStdout(), watchOptions{untilWaiting: untilWaiting})
		},
	}
	cmd.Flags().BoolVar(&untilWaiting, "until-waiting", true, "return as soon as the run waits for a person")
	return cmd
}

// update sends an Update and waits for the run to accept or refuse it.
func update(ctx context.Context, c client.Client, id, name string, arg any) (runbook.Answer, error) {
	var ans runbook.Answer
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &ans)
	}
	if err != nil {
		var refused interface{ Message() string }
		if errors.As(err, &refused) {
			return ans, fmt.Errorf("the run refused it: %s", refused.Message())
		}
		return ans, fmt.Errorf("unable to reach %s: %w", id, err)
	}
	return ans, nil
}

// answer sends a person's answer to a run as an Update and prints what the
// run recorded. build makes the answer for the person this starter runs as.
func answer(cmd *cobra.Command, g *globals, id, step, name string, build func(who runbook.Identity) any) error {
	c, cfg, err := g.dial(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	who, err := identity(cfg)
	if err != nil {
		return err
	}
	ans, err := update(cmd.Context(), c, id, name, build(who))
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %s by %s at %s\n", step, ans.Action, answerBy(ans), ans.At.Local().Format(time.RFC3339))
	if len(ans.Config) > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "corrected config taken; keys changed: %s\n", strings.Join(ans.Config, ", "))
	}
	return nil
}

// answerBy is who gave an answer, with how the run knows it.
func answerBy(a runbook.Answer) string {
	if a.Who != nil {
		return a.Who.String()
	}
	return a.By
}

// withConfig fills the corrected config of an answer from --config FILE,
// after showing the diff; it reports false when the operator said no.
func withConfig(cmd *cobra.Command, g *globals, id, file string, yes bool, set func(json.RawMessage)) (bool, error) {
	if file == "" {
		return true, nil
	}
	c, _, err := g.dial(cmd.Context())
	if err != nil {
		return false, err
	}
	defer c.Close()
	raw, err := correctedConfig(cmd.Context(), c, id, file, yes, cmd.InOrStdin(), cmd.OutOrStdout())
	if err != nil || raw == nil {
		return false, err
	}
	set(raw)
	return true, nil
}

func newApproveCmd(g *globals) *cobra.Command {
	var comment, file, ack string
	var reject, yes bool
	cmd := &cobra.Command{
		Use:   "approve ID STEP [--reject] --comment TEXT [--config FILE] [--ack WARNING]",
		Short: "Answer a step waiting at its gate (approve, or reject with --reject)",
		Long: `approve answers a gate as you: the subject of the client certificate in the worker
config's temporal.tls, or your OS user (recorded as unverified). The run refuses an answer
from someone its config's approvers do not list, and the approval of a destructive gate by
the person who started the run (unless approvers.allowSelfApproval). Nothing refused
lands in the run's history.`,
		Example: `  starter approve upgrade/demo/lab approve/delete-old-releases --comment "DB backup checked"
  starter approve upgrade/demo/lab approve/delete-old-releases --reject --comment "backup failed"
  starter approve upgrade/demo/lab approve/delete-old-releases --config fixed.yaml`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reject && strings.TrimSpace(comment) == "" {
				return errors.New("a rejection needs a comment saying why (--comment); it lands in the run's history")
			}
			a := runbook.Approval{Step: args[1], Reject: reject, Comment: comment, Ack: ack}
			if ok, err := withConfig(cmd, g, args[0], file, yes, func(raw json.RawMessage) { a.Config = raw }); !ok || err != nil {
				return err
			}
			return answer(cmd, g, args[0], args[1], runbook.UpdateApprove, func(who runbook.Identity) any {
				a.By, a.Who = who.Name, &who
				return a
			})
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why (required with --reject); lands in the run's history")
	cmd.Flags().BoolVar(&reject, "reject", false, "reject: the run stops before the step (or skips an optional step)")
	cmd.Flags().StringVar(&ack, "ack", "", "with --reject of an optional step the guide marks required: the ID of its warning, acknowledged")
	cmd.Flags().StringVar(&file, "config", "", "a corrected upgrade config for this step and the ones after it (shows the diff first)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "send the corrected config without asking")
	return cmd
}

// hasUndo says whether any step of the run has undo steps.
func hasUndo(st runbook.RunStatus) bool {
	for _, s := range st.Steps {
		if len(s.Undo) > 0 {
			return true
		}
	}
	return false
}

// rollbackRefusal is why the run refuses --rollback now, as its status
// shows it (the run's own check decides; this one saves a round trip and
// covers signals): the point of no return has started.
func rollbackRefusal(st runbook.RunStatus) string {
	at := -1
	for i, s := range st.Steps {
		if s.NoReturn != "" && s.Undoes == "" {
			at = i
			break
		}
	}
	if at < 0 {
		return ""
	}
	for i, s := range st.Steps[at:] {
		if s.Undoes != "" || s.State == runbook.StepPending || s.State == runbook.StepNotRunAfterAbort {
			continue
		}
		where := fmt.Sprintf("%s, the point of no return, is %s", s.Name, s.State)
		if i > 0 {
			where = fmt.Sprintf("%s is %s, past the point of no return (%s)", s.Name, s.State, st.Steps[at].Name)
		}
		return where + "; the guide warns: " + st.Steps[at].NoReturn
	}
	return ""
}

func newDecideCmd(g *globals) *cobra.Command {
	var comment, file, ack string
	var yes, rollback bool
	cmd := &cobra.Command{
		Use:   "decide ID STEP retry|skip|abort [--comment TEXT] [--ack WARNING] [--config FILE] [--rollback]",
		Short: "Answer a failed step: run it again (optionally with a corrected config), go on without it, or end the run",
		Long: `decide answers a failed step as you (see approve). skip and abort need --comment: why.
A step the guide marks as required (plan shows "required:ID") is skipped only with
--ack ID in the same call: you have read the guide's warning. abort --rollback, before
the plan's point of no return (plan shows "no-way-back"), runs the undo steps of every
step done, latest first (plan shows them under each step marked "undo"), then ends
the run rolled back; after that point it is refused.`,
		Example: `  starter decide upgrade/demo/lab wait-up/hzero-iam retry
  starter decide upgrade/demo/lab upgrade/hzero-iam retry --config fixed.yaml
  starter decide upgrade/demo/lab wait-up/hzero-iam skip --comment "checked by hand: UP"
  starter decide upgrade/c7n/prod follow-log/data-migration skip --ack data-migration-exception --comment "vendor: harmless"
  starter decide upgrade/demo/lab upgrade/hzero-iam abort --comment "chart broken, rolling back"
  starter decide upgrade/c7n/prod create-databases/hzero abort --rollback --comment "DB not ready; back to 0.21"`,
		Args:      cobra.ExactArgs(3),
		ValidArgs: []string{"retry", "skip", "abort"},
		RunE: func(cmd *cobra.Command, args []string) error {
			action := runbook.Action(args[2])
			switch action {
			case runbook.ActionRetry:
			case runbook.ActionSkip, runbook.ActionAbort:
				if strings.TrimSpace(comment) == "" {
					return fmt.Errorf("%s needs a comment saying why (--comment); it lands in the run's history", action)
				}
			default:
				return fmt.Errorf("unknown decision %q: use retry, skip or abort", args[2])
			}
			if ack != "" && action != runbook.ActionSkip {
				return fmt.Errorf("--ack goes with skip only, not %s", action)
			}
			if file != "" && action != runbook.ActionRetry {
				return fmt.Errorf("--config goes with retry only, not %s", action)
			}
			if rollback && action != runbook.ActionAbort {
				return fmt.Errorf("--rollback goes with abort only, not %s", action)
			}
			if rollback {
				if err := checkRollback(cmd, g, args[0]); err != nil {
					return err
				}
			}
			d := runbook.Decision{Step: args[1], Action: action, Comment: comment, Ack: ack, Rollback: rollback}
			if ok, err := withConfig(cmd, g, args[0], file, yes, func(raw json.RawMessage) { d.Config = raw }); !ok || err != nil {
				return err
			}
			return answer(cmd, g, args[0], args[1], runbook.UpdateDecide, func(who runbook.Identity) any {
				d.By, d.Who = who.Name, &who
				return d
			})
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why (required for skip and abort); lands in the run's history")
	cmd.Flags().StringVar(&ack, "ack", "", "with skip of a step the guide marks required: the ID of its warning, acknowledged")
	cmd.Flags().StringVar(&file, "config", "", "with retry: a corrected upgrade config for this step and the ones after it (shows the diff first)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "send the corrected config without asking")
	cmd.Flags().BoolVar(&rollback, "rollback", false, "with abort, before the plan's point of no return: run the undo steps of every step done "+
		"(latest first: re-install deleted releases from their backups), then end the run rolled back")
	return cmd
}

// checkRollback refuses --rollback before anything is sent when the run's
// status shows it past its point of no return.
func checkRollback(cmd *cobra.Command, g *globals, id string) error {
	c, _, err := g.dial(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := queryStatus(cmd.Context(), c, id)
	if err != nil {
		return nil // the run's own check decides
	}
	if why := rollbackRefusal(st); why != "" {
		return fmt.Errorf("--rollback refused, nothing sent: %s. Abort without --rollback, and restore from the backups by hand if you must", why)
	}
	return nil
}

func newListCmd(g *globals) *cobra.Command {
	var state, guide, output string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List upgrade runs with their state and current step",
		Example: `  starter list
  starter list --state waiting-approval`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, cfg, err := g.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			// A run that continued as new is the same upgrade: list its latest run only.
			q := "UpgradeGuide IS NOT NULL AND ExecutionStatus != 'ContinuedAsNew'"
			if state != "" {
				q += fmt.Sprintf(" AND UpgradeState = %q", state)
			}
			if guide != "" {
				q += fmt.Sprintf(" AND UpgradeGuide = %q", guide)
			}
			resp, err := c.ListWorkflow(cmd.Context(), &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: cfg.Temporal.Namespace, Query: q, PageSize: int32(limit)})
			if err != nil {
				return fmt.Errorf("unable to list runs: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tSTATE\tSTEP\tFROM\tTO\tSTARTED")
			rows := []listRow{}
			for _, e := range resp.GetExecutions() {
				sa := e.GetSearchAttributes().GetIndexedFields()
				get := func(k string) string {
					var s string
					if p, ok := sa[k]; ok {
						_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
					}
					return s
				}
				row := listRow{ID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(),
					Status: strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")),
					Guide:  get("UpgradeGuide"), Environment: get("UpgradeEnvironment"),
					State: get("UpgradeState"), Step: get("UpgradeStep"), From: get("UpgradeFrom"), To: get("UpgradeTo"),
					Started: e.GetStartTime().AsTime()}
				if ct := e.GetCloseTime(); ct != nil && ct.IsValid() && row.Status != "running" {
					t := ct.AsTime()
					row.Closed = &t
				}
				rows = append(rows, row)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.ID, row.Status, row.State, row.Step, row.From, row.To,
					row.Started.Local().Format("2006-01-02 15:04"))
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only runs in this state (running, waiting-approval, failed-awaiting-decision, completed, aborted)")
	cmd.Flags().StringVar(&guide, "guide", "", "only runs of this guide")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json (for scripts)")
	return cmd
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// listRow is one run as `list --output json` prints it.
type listRow struct {
	ID          string     `json:"id"`
	RunID       string     `json:"runId"`
	Status      string     `json:"status"`
	Guide       string     `json:"guide"`
	Environment string     `json:"environment"`
	State       string     `json:"state"`
	Step        string     `json:"step,omitempty"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	Started     time.Time  `json:"started"`
	Closed      *time.Time `json:"closed,omitempty"`
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return fmt.Errorf("--output %q: use text or json", o)
	}
	return nil
}
