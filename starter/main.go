// Command starter is the operator's CLI for upgrader: list the guides, print
// a guide's plan for a config, start a run, follow it, and answer the run
// when it waits for a person (approve a gate; retry, skip or abort a failed
// step). `starter demo` runs everything locally: a Temporal dev server with
// its Web UI, the worker and a demo upgrade.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"upgrader/config"
	"upgrader/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

type globals struct {
	workerConfig string
	address      string
	namespace    string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "starter",
		Short: "Run vendor upgrade guides as durable Temporal workflows",
		Long: `starter plans, starts and steers upgrade runs.

A run is one guide applied to one environment; its ID is upgrade/<guide>/<environment>.
When a run waits for a person, 'starter status' says which step and the exact command to answer it.`,
		Example: `  starter guides
  starter plan demo -c config/examples/demo.yaml
  starter preflight choerodon-0.21-0.22 -c site.yaml
  starter start demo -c config/examples/demo.yaml --env lab
  starter watch upgrade/demo/lab
  starter approve upgrade/demo/lab approve/delete-old-releases --comment "DB backup checked"
  starter decide upgrade/demo/lab wait-up/hzero-iam retry
  starter demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.workerConfig, "worker-config", os.Getenv("UPGRADER_CONFIG"),
		"worker config file: how to reach Temporal (default: 127.0.0.1:7233, namespace default; UPGRADER_* overrides)")
	root.PersistentFlags().StringVar(&g.address, "address", "", "Temporal frontend host:port (overrides the config)")
	root.PersistentFlags().StringVar(&g.namespace, "namespace", "", "Temporal namespace (overrides the config)")
	root.AddCommand(newGuidesCmd(), newPlanCmd(g), newPreflightCmd(g), newStartCmd(g), newStatusCmd(g), newWatchCmd(g),
		newApproveCmd(g), newDecideCmd(g), newListCmd(g), newReportCmd(g), newDemoCmd(), newSchemaCmd(), newCodecKeyCmd(), newCodecServerCmd(g))
	addCompletions(root)
	return root
}

// load reads the worker config with the command line's overrides.
func (g *globals) load() (config.Worker, error) {
	cfg, err := config.LoadWorker(g.workerConfig)
	if err != nil {
		return cfg, err
	}
	if g.address != "" {
		cfg.Temporal.Address = g.address
	}
	if g.namespace != "" {
		cfg.Temporal.Namespace = g.namespace
	}
	return cfg, cfg.Validate()
}

func (g *globals) dial(ctx context.Context) (client.Client, config.Worker, error) {
	cfg, err := g.load()
	if err != nil {
		return nil, cfg, err
	}
	c, err := app.Dial(ctx, cfg.Temporal, app.NewLogger("error", os.Stderr))
	return c, cfg, err
}
