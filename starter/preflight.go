package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"upgrader/internal/contract"
	"upgrader/internal/text"
	"upgrader/workflows"
)

func newPreflightCmd(g *globals) *cobra.Command {
	var file, env string
	var asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "preflight GUIDE -c FILE",
		Short: "Check a site before an upgrade, changing nothing",
		Long: `preflight runs the guide's read-only checks (its preflight/* steps, the same ones an
upgrade runs first) on the worker, which holds the credentials and reaches the site, and prints
one row per thing checked: the check, its target, pass / warn / fail, what was found and what to
do. Nothing on the site is changed. It exits non-zero when a check fails.`,
		Example: "  starter preflight choerodon-0.21-0.22 -c site.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, in, err := loadInput(args[0], file, env)
			if err != nil {
				return err
			}
			plan, err := in.Plan()
			if err != nil {
				return err
			}
			if len(workflows.PreflightSteps(plan)) == 0 {
				return fmt.Errorf("guide %s has no preflight/* checks for this config", spec.Name)
			}
			c, cfg, err := g.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := checkSecretsKnown(file, in, cfg); err != nil {
				return err
			}
			raw, err := json.Marshal(in)
			if err != nil {
				return err
			}
			t := in.GetTarget()
			id := workflows.PreflightWorkflowID(spec.Name, t.Environment)
			run, err := c.ExecuteWorkflow(cmd.Context(), client.StartWorkflowOptions{
				ID: id, TaskQueue: cfg.Temporal.TaskQueue,
				WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
				WorkflowExecutionErrorWhenAlreadyStarted: true,
				WorkflowExecutionTimeout:                 timeout,
				StaticSummary:                            fmt.Sprintf("preflight of %s on %s (changes nothing)", spec.Title, t.Environment),
			}, workflows.PreflightWorkflowType, workflows.PreflightInput{Guide: spec.Name, Config: raw})
			var already *serviceerror.WorkflowExecutionAlreadyStarted
			if errors.As(err, &already) {
				return fmt.Errorf("a preflight of %s on %s is already running (run %s); wait for it", spec.Name, t.Environment, already.RunId)
			}
			if err != nil {
				return fmt.Errorf("unable to start %s: %w", id, err)
			}
			var rep workflows.PreflightReport
			if err := run.Get(cmd.Context(), &rep); err != nil {
				return fmt.Errorf("preflight %s: %w; is a worker running on task queue %s?", id, err, cfg.Temporal.TaskQueue)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "%s: %s → %s on %s (workflow %s, run %s); nothing was changed\n\n",
					spec.Title, t.From, t.To, t.Environment, id, run.GetRunID())
				printChecks(out, rep.Checks)
			}
			if n := rep.Failed(); n > 0 {
				return fmt.Errorf("%d of %d checks failed; fix them (WHAT TO DO) and run the preflight again before starting the upgrade", n, len(rep.Checks))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "upgrade config (YAML) for one environment")
	cmd.Flags().StringVar(&env, "env", "", "environment name (overrides the config's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up on the preflight after this long")
	return cmd
}

// printChecks prints a preflight's findings, one row per thing checked.
func printChecks(w io.Writer, checks []contract.Check) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tTARGET\tRESULT\tFOUND\tWHAT TO DO")
	counts := map[contract.Result]int{}
	for _, c := range checks {
		counts[c.Result]++
		fix := c.Fix
		if fix == "" {
			fix = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Check, c.Target, c.Result, text.OneLine(c.Found, 160), text.OneLine(fix, 240))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d pass, %d warn, %d fail\n", counts[contract.Pass], counts[contract.Warn], counts[contract.Fail])
}
