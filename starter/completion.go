package main

import (
	"github.com/spf13/cobra"

	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// addCompletions teaches cobra's shell completion (`starter completion
// bash|zsh|fish|powershell`) our values: guide names for the commands that
// take one, text|json for --output, the run states for --state.
func addCompletions(root *cobra.Command) {
	guides := func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		var names []string
		for _, g := range workflows.Guides() {
			names = append(names, g.Name+"\t"+g.Title)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	for _, c := range root.Commands() {
		switch c.Name() {
		case "plan", "start", "schema":
			if c.ValidArgsFunction == nil {
				c.ValidArgsFunction = guides
			}
		}
		if c.Flags().Lookup("output") != nil {
			_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
		}
		if c.Flags().Lookup("state") != nil {
			_ = c.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{string(runbook.RunRunning),
				string(runbook.RunWaitingApproval), string(runbook.RunFailedAwaiting), string(runbook.RunCompleted),
				string(runbook.RunAborted), string(runbook.RunRejected), string(runbook.RunRollingBack), string(runbook.RunRolledBack)},
				cobra.ShellCompDirectiveNoFileComp))
		}
	}
}
