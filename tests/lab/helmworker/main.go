// Command helmworker is upgrader's worker with one more workflow,
// HelmStepLab: a run of a single helm upgrade step, with the heartbeat
// timeout the test chooses. The hook tests in tests/integration
// (helm_hook_test.go) run it as a process they can SIGKILL mid-hook, so
// the step's real activity, retry policy and runbook are what is tested,
// at a scaled-down heartbeat timeout. It is a test tool: nothing ships it.
//
//	helmworker -c worker.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/app"
	"upgrader/workflows/runbook"
)

// WorkflowType is the lab workflow's registered name.
const WorkflowType = "HelmStepLab"

// Input is one helm upgrade step and its heartbeat timeout.
type Input struct {
	Target    runbook.Target              `json:"target"`
	Upgrade   activities.HelmUpgradeInput `json:"upgrade"`
	Heartbeat time.Duration               `json:"heartbeat"`
}

var helm *activities.Helm

// HelmStepLab runs "upgrade/<release>" through the runbook, as a guide's
// helm step runs.
func HelmStepLab(ctx workflow.Context, in Input) (runbook.RunStatus, error) {
	return runbook.Run(ctx, runbook.Guide{Name: "helm-step-lab", Title: "One helm upgrade step (lab)"}, in.Target, []runbook.Step{{
		Name: "upgrade/" + in.Upgrade.Release, Kind: runbook.KindHelm,
		Summary:   fmt.Sprintf("upgrade --install %s to %s", in.Upgrade.Release, in.Upgrade.Chart.Version),
		Activity:  helm.UpgradeInstall,
		Input:     in.Upgrade,
		Heartbeat: in.Heartbeat,
	}})
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "helmworker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := flag.String("c", "", "worker config file (YAML)")
	flag.Parse()
	cfg, err := config.LoadWorker(*cfgPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := app.NewLogger(cfg.LogLevel, os.Stderr)
	c, err := app.Dial(ctx, cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	secrets := config.NewSecretStoreFor(cfg)
	w := worker.New(c, cfg.Temporal.TaskQueue, app.WorkerOptions(secrets))
	app.Register(w, cfg, secrets)
	w.RegisterWorkflowWithOptions(HelmStepLab, workflow.RegisterOptions{Name: WorkflowType})
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
