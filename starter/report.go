package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"upgrader/internal/report"
	"upgrader/workflows"
)

func newReportCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report ID [--out DIR]",
		Short: "Write a run's report (report.md and report.html with a timeline) into its artifact folder",
		Long: `report writes the run's report: guide, target, who started it, every step with its guide section,
state, tries, start and duration, who approved or decided what and why, backups with their
paths and checksums, and a timeline. The worker writes the same report when a run ends; this
writes it again on demand, also for a run still going.`,
		Example: `  starter report upgrade/demo/lab
  starter report upgrade/demo/lab --out /tmp/report`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cfg, err := g.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			in, err := reportInput(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			dir := out
			if dir == "" {
				dir = filepath.Join(cfg.ArtifactDir, filepath.FromSlash(args[0]), in.RunID)
			}
			md, html, err := report.Write(dir, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\nopen it: xdg-open %s (or any browser: file://%s)\n", md, html, html, html)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "folder to write into (default: the run's artifact folder, <artifactDir>/<ID>/<run id>)")
	return cmd
}

// reportInput gathers a run's report from Temporal: its status (the query,
// which also answers for a closed run), who started it, when it started and
// ended, and its guide's map.
func reportInput(ctx context.Context, c client.Client, id string) (report.Input, error) {
	var in report.Input
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return in, fmt.Errorf("unable to find run %s: %w (`%s list` shows runs)", id, err, self())
	}
	info := desc.GetWorkflowExecutionInfo()
	st, err := queryStatus(ctx, c, id)
	if err != nil {
		return in, err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return in, err
	}
	if err := json.Unmarshal(b, &in.Status); err != nil {
		return in, err
	}
	in.WorkflowID, in.RunID = id, info.GetExecution().GetRunId()
	in.StartedAt = info.GetStartTime().AsTime()
	for _, s := range st.Steps {
		if !s.StartedAt.IsZero() && s.StartedAt.Before(in.StartedAt) {
			in.StartedAt = s.StartedAt
		}
	}
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && info.GetCloseTime() != nil {
		in.EndedAt = info.GetCloseTime().AsTime()
	}
	if spec, err := workflows.Lookup(st.Guide); err == nil {
		for _, s := range spec.Map {
			in.Sections = append(in.Sections, report.Section{ID: s.ID, Title: s.Title, Heading: s.Heading})
		}
	}
	return in, nil
}

// reportPath is where the worker wrote the report of run id's latest run,
// or "" when it is not there (yet).
func reportPath(ctx context.Context, c client.Client, artifactDir, id string) string {
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return ""
	}
	p := filepath.Join(artifactDir, filepath.FromSlash(id), desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), report.HTMLFile)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
