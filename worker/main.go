// Command worker runs upgrader's Temporal worker: every guide's workflow and
// every activity, on one task queue.
//
//	worker -c worker.yaml
//	worker -c worker.yaml --task-queue upgrader-site-b --site b --activities-only
//
// The second form is a site's worker (README "Many sites"): it runs the
// steps the upgrade config's sites: sends to its queue.
//
// Every config key can be overridden with UPGRADER_* environment variables
// (UPGRADER_TEMPORAL_ADDRESS=temporal:7233). The config is validated as a
// whole before the worker connects; SIGINT or SIGTERM stops it gracefully,
// letting running activities finish their current heartbeat.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"upgrader/config"
	"upgrader/internal/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	cfgPath := fs.String("c", os.Getenv("UPGRADER_CONFIG"), "worker config file (YAML); empty: defaults and UPGRADER_* environment")
	queue := fs.String("task-queue", "", "poll this task queue (a site's, as the upgrade config's sites: names it); overrides temporal.taskQueue")
	site := fs.String("site", "", "the site this worker serves (its Temporal identity says so); overrides site")
	activitiesOnly := fs.Bool("activities-only", false, "poll for activities only: a site's worker, the runs' workflows running on a central worker")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: worker [-c worker.yaml] [--task-queue QUEUE --site NAME [--activities-only]]\n\n"+
			"Runs every upgrade guide's workflows and activities (a site's worker: its steps' activities).\n"+
			"Keys can be overridden by UPGRADER_* variables, e.g. UPGRADER_TEMPORAL_ADDRESS.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := config.LoadWorker(*cfgPath)
	if err != nil {
		return err
	}
	if *queue != "" || *site != "" || *activitiesOnly {
		if *queue != "" {
			cfg.Temporal.TaskQueue = *queue
		}
		if *site != "" {
			cfg.Site = *site
		}
		cfg.ActivitiesOnly = cfg.ActivitiesOnly || *activitiesOnly
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("worker flags: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.RunWorker(ctx, cfg, app.NewLogger(cfg.LogLevel, os.Stderr))
}
