package main

import (
	"github.com/spf13/cobra"

	"upgrader/config"
	"upgrader/workflows"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema GUIDE",
		Short: "Print the JSON Schema of a guide's upgrade config, for editors",
		Long: `schema prints the JSON Schema of a guide's upgrade config: every key, its description,
durations as strings with units, no unknown keys. Editors with yaml-language-server use it when
the config's first line is '# yaml-language-server: $schema=PATH' (the examples have it).
It checks the shape of a config only; 'starter plan' checks everything.`,
		Example: "  starter schema choerodon-0.21-0.22 > choerodon.schema.json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := workflows.Lookup(args[0])
			if err != nil {
				return err
			}
			b, err := config.UpgradeSchema(spec.Name)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}
