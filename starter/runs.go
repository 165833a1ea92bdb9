package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

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
	cmd := &cobra.Command{
		Use:     "status ID",
		Short:   "Show every step of a run: state, tries, times, errors, who answered",
		Example: "  starter status upgrade/demo/lab",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := g.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := queryStatus(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				b, _ := converter.GetDefaultDataConverter().ToPayload(st)
				_, err := cmd.OutOrStdout().Write(append(b.GetData(), '\n'))
				return err
			}
			printStatus(cmd.OutOrStdout(), args[0], st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func printStatus(w io.Writer, id string, st runbook.RunStatus) {
	fmt.Fprintf(w, "%s — %s (%s → %s on %s): %s\n\n", id, st.Title, st.Target.From, st.Target.To, st.Target.Environment, st.State)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSTEP\tSTATE\tTRIES\tSTARTED\tTOOK\tDETAIL")
	for i, s := range st.Steps {
		took := ""
		if !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
			took = s.EndedAt.Sub(s.StartedAt).Round(100 * time.Millisecond).String()
		}
		started := ""
		if !s.StartedAt.IsZero() {
			started = s.StartedAt.Local().Format("15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", i+1, s.Name, s.State, s.Attempts, started, took, stepDetail(s))
	}
	tw.Flush()
	for _, n := range st.Notices {
		fmt.Fprintf(w, "notice: %s\n", n)
	}
	printNext(w, id, st)
}

func stepDetail(s runbook.StepStatus) string {
	var parts []string
	if s.Approval != nil {
		parts = append(parts, fmt.Sprintf("%sd by %s at %s", s.Approval.Action, s.Approval.By, s.Approval.At.Local().Format("15:04:05")))
	}
	for _, d := range s.Decisions {
		parts = append(parts, fmt.Sprintf("%s by %s", d.Action, d.By))
	}
	switch {
	case s.State == runbook.StepFailedAwaiting && s.LastError != "":
		parts = append(parts, "error: "+oneLine(s.LastError, 160))
	case s.State == runbook.StepWaitingApproval:
		parts = append(parts, "asks: "+oneLine(s.Prompt, 160))
	case s.Result != "":
		parts = append(parts, oneLine(s.Result, 120))
	}
	if s.Overdue {
		parts = append(parts, "OVERDUE")
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// printNext prints the exact commands that answer a waiting run.
func printNext(w io.Writer, id string, st runbook.RunStatus) {
	for _, s := range st.Waiting() {
		switch s.State {
		case runbook.StepWaitingApproval:
			fmt.Fprintf(w, "\n%s waits for approval: %s\n  approve: %s approve %s %s --comment \"…\"\n  reject:  %s approve %s %s --reject --comment \"why\"\n",
				s.Name, s.Prompt, self(), id, s.Name, self(), id, s.Name)
		case runbook.StepFailedAwaiting:
			fmt.Fprintf(w, "\n%s failed: %s\n  retry: %s decide %s %s retry\n  skip:  %s decide %s %s skip --comment \"why\"\n  abort: %s decide %s %s abort --comment \"why\"\n",
				s.Name, s.LastError, self(), id, s.Name, self(), id, s.Name, self(), id, s.Name)
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

func whoAmI() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
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
// run recorded.
func answer(cmd *cobra.Command, g *globals, id, step, name string, arg any) error {
	c, _, err := g.dial(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	ans, err := update(cmd.Context(), c, id, name, arg)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %s by %s at %s\n", step, ans.Action, ans.By, ans.At.Local().Format(time.RFC3339))
	return nil
}

func newApproveCmd(g *globals) *cobra.Command {
	var comment, by string
	var reject bool
	cmd := &cobra.Command{
		Use:   "approve ID STEP [--reject] --comment TEXT",
		Short: "Answer a step waiting at its gate (approve, or reject with --reject)",
		Example: `  starter approve upgrade/demo/lab approve/delete-old-releases --comment "DB backup checked"
  starter approve upgrade/demo/lab approve/delete-old-releases --reject --comment "backup failed"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return answer(cmd, g, args[0], args[1], runbook.UpdateApprove,
				runbook.Approval{Step: args[1], Reject: reject, By: by, Comment: comment})
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why (required with --reject); lands in the run's history")
	cmd.Flags().StringVar(&by, "by", whoAmI(), "who answers")
	cmd.Flags().BoolVar(&reject, "reject", false, "reject: the run stops before the step (or skips an optional step)")
	return cmd
}

func newDecideCmd(g *globals) *cobra.Command {
	var comment, by string
	cmd := &cobra.Command{
		Use:   "decide ID STEP retry|skip|abort [--comment TEXT]",
		Short: "Answer a failed step: run it again, go on without it, or end the run",
		Example: `  starter decide upgrade/demo/lab wait-up/hzero-iam retry
  starter decide upgrade/demo/lab wait-up/hzero-iam skip --comment "checked by hand: UP"
  starter decide upgrade/demo/lab upgrade/hzero-iam abort --comment "chart broken, rolling back"`,
		Args:      cobra.ExactArgs(3),
		ValidArgs: []string{"retry", "skip", "abort"},
		RunE: func(cmd *cobra.Command, args []string) error {
			action := runbook.Action(args[2])
			switch action {
			case runbook.ActionRetry, runbook.ActionSkip, runbook.ActionAbort:
			default:
				return fmt.Errorf("unknown decision %q: use retry, skip or abort", args[2])
			}
			return answer(cmd, g, args[0], args[1], runbook.UpdateDecide,
				runbook.Decision{Step: args[1], Action: action, By: by, Comment: comment})
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why (required for skip and abort); lands in the run's history")
	cmd.Flags().StringVar(&by, "by", whoAmI(), "who decides")
	return cmd
}

func newListCmd(g *globals) *cobra.Command {
	var state, guide string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List upgrade runs with their state and current step",
		Example: `  starter list
  starter list --state waiting-approval`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, cfg, err := g.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			q := "UpgradeGuide IS NOT NULL"
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
			for _, e := range resp.GetExecutions() {
				sa := e.GetSearchAttributes().GetIndexedFields()
				get := func(k string) string {
					var s string
					if p, ok := sa[k]; ok {
						_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
					}
					return s
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.GetExecution().GetWorkflowId(),
					strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")),
					get("UpgradeState"), get("UpgradeStep"), get("UpgradeFrom"), get("UpgradeTo"),
					e.GetStartTime().AsTime().Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only runs in this state (running, waiting-approval, failed-awaiting-decision, completed, aborted)")
	cmd.Flags().StringVar(&guide, "guide", "", "only runs of this guide")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs")
	return cmd
}
