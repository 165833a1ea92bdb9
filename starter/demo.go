package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/app"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

type demoOptions struct {
	stateDir    string
	port        string
	uiPort      string
	autoApprove bool
	exit        bool
	work        int
}

func newDemoCmd() *cobra.Command {
	home, _ := os.UserHomeDir()
	o := demoOptions{stateDir: filepath.Join(home, ".local", "state", "upgrader", "demo")}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run everything locally: Temporal dev server + Web UI, the worker, and a demo upgrade",
		Long: `demo starts the pinned Temporal dev server (with its Web UI), a worker, a small lab of
fake releases with health endpoints, and the demo upgrade guide against that lab. It prints
the Web UI link, follows the run, and at the approval gate prints the exact command to
approve it from another terminal (or approves it itself with --auto-approve).
State is kept in --state-dir, so the Web UI still shows earlier runs next time.`,
		Example: `  starter demo
  starter demo --auto-approve --exit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.stateDir, "state-dir", o.stateDir, "where the dev server's database, the lab and the artifacts live")
	f.StringVar(&o.port, "port", "7233", "dev server frontend port on 127.0.0.1")
	f.StringVar(&o.uiPort, "ui-port", "8233", "Web UI port on 127.0.0.1")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "approve the gate automatically (for unattended runs)")
	f.BoolVar(&o.exit, "exit", false, "stop the dev server when the run ends instead of keeping the Web UI up")
	f.IntVar(&o.work, "work", 5, "seconds each demo upgrade step works (it heartbeats every second)")
	return cmd
}

func runDemo(ctx context.Context, out io.Writer, o demoOptions) error {
	if err := os.MkdirAll(o.stateDir, 0o700); err != nil {
		return fmt.Errorf("unable to create the state dir: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(o.stateDir, "demo.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()

	addr := "127.0.0.1:" + o.port
	fmt.Fprintf(out, "starting the Temporal dev server on %s (logs: %s)…\n", addr, logf.Name())
	srv, err := app.StartDevServer(ctx, app.DevServerOptions{HostPort: addr, UIPort: o.uiPort,
		DBFile: filepath.Join(o.stateDir, "temporal.db"), Log: logf})
	if err != nil {
		return err
	}
	defer srv.Stop()

	lab := filepath.Join(o.stateDir, "lab")
	in := workflows.NewDemoInput()
	in.LabDir = lab
	in.Work = o.work
	if err := seedDemoLab(lab, in); err != nil {
		return err
	}
	health, err := serveDemoHealth(ctx, lab, in.To)
	if err != nil {
		return err
	}
	in.HealthURL = health + "/{release}/actuator/health"

	secretFile := filepath.Join(o.stateDir, "secrets", "demo-db-password")
	if err := ensureSecretFile(secretFile); err != nil {
		return err
	}
	cfg := config.Defaults()
	cfg.Temporal.Address = addr
	cfg.Temporal.UIAddress = "http://127.0.0.1:" + o.uiPort
	cfg.ArtifactDir = filepath.Join(o.stateDir, "artifacts")
	cfg.Secrets = map[string]config.Secret{in.PasswordRef: {File: secretFile}}
	if err := cfg.Validate(); err != nil {
		return err
	}

	wctx, stopWorker := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() { werr <- app.RunWorker(wctx, cfg, app.NewLogger("info", logf)) }()
	defer func() { stopWorker(); <-werr }()

	c := srv.Client()
	spec, _ := workflows.Lookup("demo")
	id := runbook.WorkflowID(spec.Name, in.Environment)
	run, err := startUpgrade(ctx, c, cfg, spec, &in)
	var running *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case err == nil:
		fmt.Fprintf(out, "started the demo upgrade %s (run %s)\n", id, run.GetRunID())
	case errors.As(errors.Unwrap(err), &running) || strings.Contains(err.Error(), "already running"):
		fmt.Fprintf(out, "the demo upgrade %s is already running from last time; following it\n", id)
	default:
		return err
	}
	fmt.Fprintf(out, "Web UI: %s\nplan:   %s plan demo -c config/examples/demo.yaml\n\n", uiLink(cfg, id), self())

	wo := watchOptions{}
	if o.autoApprove {
		wo.onWaiting = func(s runbook.StepStatus) error {
			if s.State != runbook.StepWaitingApproval {
				return nil
			}
			_, err := update(ctx, c, id, runbook.UpdateApprove, runbook.Approval{
				Step: s.Name, By: "starter-demo", Comment: "approved by --auto-approve"})
			if err == nil {
				fmt.Fprintf(out, "          (approved %s automatically)\n", s.Name)
			}
			return err
		}
	}
	if err := watchRun(ctx, c, id, out, wo); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nartifacts (values backups, journal): %s\n", cfg.ArtifactDir)
	if o.exit {
		return nil
	}
	fmt.Fprintf(out, "the Web UI stays up at %s; press Ctrl-C to stop\n", cfg.Temporal.UIAddress)
	<-ctx.Done()
	return nil
}

// seedDemoLab creates the lab as it is before the upgrade: the old
// framework's releases and one release to upgrade, at the From version. A
// lab left by an earlier demo is reset.
func seedDemoLab(lab string, in workflows.DemoInput) error {
	dir := filepath.Join(lab, "releases")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	seed := append(append([]string{}, in.OldReleases...), in.Releases[len(in.Releases)-1])
	for _, name := range seed {
		rel := activities.DemoRelease{Name: name, Version: in.From, Values: map[string]string{
			"datasource.url": "jdbc:mysql://c7n-mysql.c7n-system:3306/" + strings.ReplaceAll(name, "-", "_"),
			"replicaCount":   "1",
		}}
		b, _ := json.MarshalIndent(rel, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// serveDemoHealth answers /<release>/actuator/health like a Spring Boot
// service: UP once the release is at the target version.
func serveDemoHealth(ctx context.Context, lab, version string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{release}/actuator/health", func(w http.ResponseWriter, r *http.Request) {
		var rel activities.DemoRelease
		b, err := os.ReadFile(filepath.Join(lab, "releases", r.PathValue("release")+".json"))
		w.Header().Set("Content-Type", "application/json")
		if err != nil || json.Unmarshal(b, &rel) != nil || rel.Version != version {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"DOWN"}`)
			return
		}
		fmt.Fprint(w, `{"status":"UP"}`)
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(l) }()
	go func() { <-ctx.Done(); _ = hs.Close() }()
	return "http://" + l.Addr().String(), nil
}

func ensureSecretFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600)
}

var _ = client.Options{}
