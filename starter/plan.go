package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"upgrader/config"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

func newGuidesCmd() *cobra.Command {
	var coverage bool
	var sections bool
	cmd := &cobra.Command{
		Use:   "guides [--coverage [--sections]]",
		Short: "List the upgrade guides this build knows (with --coverage: how much of each guide the steps carry out)",
		Long: `guides lists the guides. With --coverage it plans each guide for its example config and
prints, per guide, how its sections (the guide's own, in its order) are accounted for:
carried out by steps that run activities (automated), by gates where a person acts and
says so (gates), or not automated with a reason (explained); parts are headings whose
sections are counted instead. --sections lists every section with its steps.`,
		Example: `  starter guides
  starter guides --coverage
  starter guides --coverage --sections`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if coverage {
				return printCoverage(cmd.OutOrStdout(), sections)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GUIDE\tWORKFLOW TYPE\tTITLE\tEXAMPLE CONFIG")
			for _, g := range workflows.Guides() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Name, g.WorkflowType, g.Title, g.Example)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&coverage, "coverage", false, "plan each guide for its example config and count how its sections are carried out")
	cmd.Flags().BoolVar(&sections, "sections", false, "with --coverage: list every section, how it is carried out, and by which steps")
	return cmd
}

// printCoverage plans every guide for its example config (paths relative
// to the working directory, as `make` runs the starter) and sums up its map.
func printCoverage(w io.Writer, sections bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GUIDE\tSECTIONS\tAUTOMATED\tGATES\tEXPLAINED\tPARTS\tCOVERAGE\tPROBLEMS")
	var details []string
	var failed []string
	for _, g := range workflows.Guides() {
		in := g.NewInput()
		if err := config.LoadUpgrade(g.Example, g.Name, in); err != nil {
			return fmt.Errorf("%s: %w (run from the repository's folder)", g.Name, err)
		}
		steps, err := in.Plan()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", g.Name, g.Example, err)
		}
		cov := runbook.MapCoverage(g.Guide, steps)
		problems := runbook.CheckMap(g.Guide, steps)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.0f%%\t%d\n", g.Name, len(cov.Sections), cov.Automated, cov.Gates,
			cov.Explained, cov.Parts, cov.Percent(), len(problems))
		for _, p := range problems {
			failed = append(failed, g.Name+": "+p)
		}
		if sections {
			var b strings.Builder
			fmt.Fprintf(&b, "\n%s — %s\n", g.Name, g.Title)
			stw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(stw, "§\tSECTION\tHOW\tSTEPS / WHY")
			for _, sc := range cov.Sections {
				why := strings.Join(sc.Steps, ", ")
				switch {
				case sc.State == runbook.SectionExplained:
					why = sc.NotAutomated
				case sc.Manual != "":
					why += " (" + sc.Manual + ")"
				}
				title := sc.Title
				if sc.Heading != "" {
					title += " 「" + sc.Heading + "」"
				}
				fmt.Fprintf(stw, "%s\t%s\t%s\t%s\n", sc.ID, title, sc.State, why)
			}
			stw.Flush()
			details = append(details, b.String())
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range details {
		fmt.Fprint(w, d)
	}
	if len(failed) > 0 {
		return fmt.Errorf("maps and steps disagree:\n  - %s", strings.Join(failed, "\n  - "))
	}
	return nil
}

// loadInput decodes and validates a guide's config; env, when set,
// overrides the config's environment.
func loadInput(guide, path, env string) (workflows.Spec, workflows.Input, error) {
	spec, err := workflows.Lookup(guide)
	if err != nil {
		return spec, nil, err
	}
	if path == "" {
		return spec, nil, fmt.Errorf("no config given; pass -c FILE (example: %s)", spec.Example)
	}
	in := spec.NewInput()
	if err := config.LoadUpgrade(path, guide, in); err != nil {
		return spec, nil, err
	}
	if env != "" {
		in.GetTarget().Environment = env
	}
	if err := in.Validate(); err != nil {
		return spec, nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, in, nil
}

// checkSecretsKnown refuses a config naming a secret the worker config
// lacks, when the starter was given the worker's config (one with secrets):
// found now, not at the step that needs it, after the deletes.
func checkSecretsKnown(file string, in workflows.Input, cfg config.Worker) error {
	if len(cfg.Secrets) == 0 {
		return nil
	}
	err := workflows.CheckSecretsKnown(in, func(name string) bool { _, ok := cfg.Secrets[name]; return ok })
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return checkSecretUses(file, in, cfg)
}

// checkSecretUses refuses a plan whose steps would send a secret where the
// worker config does not let it go (its uses: and hosts:, no plain http://
// to an untrusted host): the admin token of a config whose api.url points
// elsewhere, the database root password as a bearer token.
func checkSecretUses(file string, in workflows.Input, cfg config.Worker) error {
	steps, err := in.Plan()
	if err != nil {
		return nil // reported by the plan itself
	}
	var p config.Problems
	for _, s := range steps {
		if u, ok := s.Input.(config.SecretUser); ok {
			p = append(p, cfg.CheckUses(s.Name, u.SecretUses())...)
		}
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func newPlanCmd(g *globals) *cobra.Command {
	var file, env string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "plan GUIDE -c FILE",
		Short: "Print the steps a guide will run for a config, in order",
		Long: `plan validates the config as a whole and prints every step the workflow will run,
with the same names the Web UI and 'starter status' show. Nothing is started.`,
		Example: "  starter plan demo -c config/examples/demo.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, in, err := loadInput(args[0], file, env)
			if err != nil {
				return err
			}
			if g.workerConfig != "" {
				cfg, err := g.load()
				if err != nil {
					return err
				}
				if err := checkSecretsKnown(file, in, cfg); err != nil {
					return err
				}
			}
			steps, err := in.Plan()
			if err == nil {
				err = runbook.CheckConfig(*in.GetTarget(), steps)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			t := in.GetTarget()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s → %s on %s (workflow %s, ID %s)\n\n", spec.Title, t.From, t.To,
				t.Environment, spec.WorkflowType, runbook.WorkflowID(spec.Name, t.Environment))
			printPlan(cmd.OutOrStdout(), steps, verbose, t.Sites)
			printSites(cmd.OutOrStdout(), t.Sites)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "upgrade config (YAML) for one environment")
	cmd.Flags().StringVar(&env, "env", "", "environment name (overrides the config's)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also print each step's input")
	return cmd
}

func printPlan(w io.Writer, steps []runbook.Step, verbose bool, sites map[string]runbook.Site) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\t§\tSTEP\tKIND\tNEEDS\tWHAT IT DOES")
	for i, s := range steps {
		s.Site = runbook.SiteOf(sites, steps, s)
		printPlanStep(tw, fmt.Sprint(i+1), s, verbose)
		if s.Expand != nil && s.Expand.Build != nil {
			how := "one after another"
			if s.Expand.SideBySide {
				how = "side by side"
			}
			fmt.Fprintf(tw, "\t\t\t\t\t  expands: one step per item of %s (known when it has run), %s:\n", s.Expand.From, how)
			c := s.Expand.Build(runbook.ItemPlaceholder)
			c.Site = runbook.SiteOf(sites, steps, c)
			printPlanStep(tw, "", c, verbose)
		}
	}
	tw.Flush()
}

// printSites says which worker each site's steps wait for.
func printSites(w io.Writer, sites map[string]runbook.Site) {
	if len(sites) == 0 {
		return
	}
	names := make([]string, 0, len(sites))
	for n := range sites {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "\nsites (a step marked site:NAME runs on the worker polling that site's queue; the others on the run's queue):")
	for _, n := range names {
		fmt.Fprintf(w, "  %s: task queue %s (worker --task-queue %s --site %s)\n", n, sites[n].TaskQueue, sites[n].TaskQueue, n)
	}
}

// printPlanStep prints one step; values it takes from earlier steps are
// shown as "from step.output": they are not known until those steps run.
func printPlanStep(tw io.Writer, num string, s runbook.Step, verbose bool) {
	var needs []string
	if s.Gate != nil {
		needs = append(needs, "approval")
	}
	if s.Parallel != "" {
		needs = append(needs, "parallel:"+s.Parallel)
	}
	if len(s.Requires) > 0 {
		needs = append(needs, "after:"+strings.Join(s.Requires, ","))
	}
	if s.OnlyIfSkipped != "" {
		needs = append(needs, "only-if-skipped:"+s.OnlyIfSkipped)
	}
	if s.Required != nil {
		needs = append(needs, "required:"+s.Required.ID)
	}
	if s.Gate != nil && s.Gate.Destructive {
		needs = append(needs, "destructive")
	}
	if s.Site != "" {
		needs = append(needs, "site:"+s.Site)
	}
	if len(s.Undo) > 0 {
		needs = append(needs, "undo")
	}
	if s.NoReturn != "" {
		needs = append(needs, "no-way-back")
	}
	kind := string(s.Kind)
	if s.Expand != nil && kind == "" {
		kind = "expand"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", num, s.Section, s.Name, kind, strings.Join(needs, " "), s.Summary)
	if s.Gate != nil {
		fmt.Fprintf(tw, "\t\t\t\t\t  asks: %s\n", s.Gate.Prompt)
	}
	if s.Required != nil {
		fmt.Fprintf(tw, "\t\t\t\t\t  required: %s (skipped only with --ack %s)\n", s.Required.Text, s.Required.ID)
	}
	if s.NoReturn != "" {
		fmt.Fprintf(tw, "\t\t\t\t\t  POINT OF NO RETURN: once this step starts, abort --rollback is refused: %s\n", s.NoReturn)
	}
	for _, u := range s.Undo {
		fmt.Fprintf(tw, "\t\t\t\t\t  undo (abort --rollback): %s: %s\n", u.Name, u.Summary)
	}
	paths := make([]string, 0, len(s.Inputs))
	for p := range s.Inputs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(tw, "\t\t\t\t\t  input %s: %s\n", p, s.Inputs[p])
	}
	if verbose && s.Input != nil {
		fmt.Fprintf(tw, "\t\t\t\t\t  input: %+v\n", s.Input)
	}
}

func newStartCmd(g *globals) *cobra.Command {
	var file, env string
	var watch bool
	cmd := &cobra.Command{
		Use:   "start GUIDE -c FILE [--env NAME]",
		Short: "Start an upgrade run (one per guide and environment at a time)",
		Example: `  starter start demo -c config/examples/demo.yaml --env lab
  starter start demo -c config/examples/demo.yaml --watch`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, in, err := loadInput(args[0], file, env)
			if err != nil {
				return err
			}
			steps, err := in.Plan()
			if err == nil {
				err = runbook.CheckConfig(*in.GetTarget(), steps)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			c, cfg, err := g.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := checkSecretsKnown(file, in, cfg); err != nil {
				return err
			}
			run, err := startUpgrade(cmd.Context(), c, cfg, spec, in)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "started %s (run %s)\n", run.GetID(), run.GetRunID())
			if cfg.Temporal.UIAddress != "" {
				fmt.Fprintf(out, "Web UI: %s\n", uiLink(cfg, run.GetID()))
			}
			if !watch {
				fmt.Fprintf(out, "follow it: %s watch %s\n", self(), run.GetID())
				return nil
			}
			return watchRun(cmd.Context(), c, run.GetID(), out, watchOptions{})
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "upgrade config (YAML) for one environment")
	cmd.Flags().StringVar(&env, "env", "", "environment name (overrides the config's)")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the run after starting it")
	return cmd
}

// startUpgrade starts a guide's workflow with ID upgrade/<guide>/<env>. It
// refuses a second run for the same guide and environment while one runs.
func startUpgrade(ctx context.Context, c client.Client, cfg config.Worker, spec workflows.Spec, in workflows.Input) (client.WorkflowRun, error) {
	if err := checkSearchAttributes(ctx, c, cfg.Temporal.Namespace); err != nil {
		return nil, err
	}
	t := in.GetTarget()
	who, err := identity(cfg)
	if err != nil {
		return nil, err
	}
	t.StartedBy = &who
	// The worker reads the same config: without webhooks, no gate
	// schedules a notification that would post nothing.
	hooks := len(cfg.Notify) > 0
	t.Webhooks = &hooks
	id := runbook.WorkflowID(spec.Name, t.Environment)
	opts := client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                cfg.Temporal.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            fmt.Sprintf("%s: %s → %s on %s", spec.Title, t.From, t.To, t.Environment),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			runbook.AttrGuide.ValueSet(spec.Name),
			runbook.AttrEnvironment.ValueSet(t.Environment),
			runbook.AttrFrom.ValueSet(t.From),
			runbook.AttrTo.ValueSet(t.To),
			runbook.AttrState.ValueSet(string(runbook.RunRunning)),
		),
	}
	run, err := c.ExecuteWorkflow(ctx, opts, spec.WorkflowType, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return nil, fmt.Errorf("an upgrade with guide %s is already running in environment %s (run %s); "+
			"follow it with `%s status %s`, or end it with `%s decide %s STEP abort --comment …` before starting another",
			spec.Name, t.Environment, already.RunId, self(), id, self(), id)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to start %s: %w", id, err)
	}
	return run, nil
}

// checkSearchAttributes makes sure the namespace knows the attributes the
// workflows upsert; without them every run would stall at its first step.
func checkSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("unable to list search attributes of namespace %s: %w", namespace, err)
	}
	var missing, args []string
	for _, k := range runbook.SearchAttributeKeys() {
		if _, ok := resp.GetCustomAttributes()[k.GetName()]; !ok {
			missing = append(missing, k.GetName())
			args = append(args, "--name "+k.GetName()+" --type Keyword")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("namespace %s lacks the search attributes %s, which every run upserts; register them once with:\n"+
			"  temporal operator search-attribute create --namespace %s %s",
			namespace, strings.Join(missing, ", "), namespace, strings.Join(args, " "))
	}
	return nil
}

// selfEnv prefixes the printed commands with the environment they need
// (the demo's codec key ring, which no config file names).
var selfEnv string

// self is how the operator invoked this CLI, for printing commands to copy.
func self() string {
	exe := os.Args[0]
	if strings.Contains(exe, "go-build") {
		exe = "go run ./starter"
	}
	return selfEnv + exe
}

func uiLink(cfg config.Worker, id string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", strings.TrimRight(cfg.Temporal.UIAddress, "/"),
		cfg.Temporal.Namespace, strings.ReplaceAll(id, "/", "%2F"))
}
