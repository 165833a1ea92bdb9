// Command worker runs upgrader's Temporal worker: every guide's workflow and
// every activity, on one task queue.
//
//	worker -c worker.yaml
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
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: worker [-c worker.yaml]\n\nRuns every upgrade guide's workflows and activities.\n"+
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.RunWorker(ctx, cfg, app.NewLogger(cfg.LogLevel, os.Stderr))
}
