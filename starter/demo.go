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
	"upgrader/internal/codec"
	"upgrader/internal/lab"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

type demoOptions struct {
	stateDir    string
	port        string
	uiPort      string
	codecPort   string
	autoApprove bool
	exit        bool
	work        int
	guide       string
	chartSrc    string
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
  starter demo --auto-approve --exit
  starter demo --guide choerodon-0.21-0.22
  starter demo --guide wecube-4.0.0 --auto-approve --exit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.stateDir, "state-dir", o.stateDir, "where the dev server's database, the lab and the artifacts live")
	f.StringVar(&o.port, "port", "7233", "dev server frontend port on 127.0.0.1")
	f.StringVar(&o.uiPort, "ui-port", "8233", "Web UI port on 127.0.0.1")
	f.StringVar(&o.codecPort, "codec-port", "8234", "codec server port on 127.0.0.1 (the Web UI decodes payloads with it)")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "approve the gate automatically (for unattended runs)")
	f.BoolVar(&o.exit, "exit", false, "stop the dev server when the run ends instead of keeping the Web UI up")
	f.IntVar(&o.work, "work", 5, "seconds each demo upgrade step works (it heartbeats every second)")
	f.StringVar(&o.guide, "guide", "demo", "demo (a lab of fake releases, ready in seconds) or choerodon-0.21-0.22 (the real guide "+
		"against the Kubernetes lab: kube-apiserver, etcd, simulated pods, MariaDB; needs scripts/build-tools.sh kube-apiserver and .ci/run's packages), "+
		"dce5-skoala (skoala across a control plane and three worker clusters, each its own lab API server) "+
		"blueking-6.1-6.2 (the real guide against four sshd hosts with BlueKing stand-ins, MariaDB, FerretDB; needs root and scripts/build-tools.sh ferretdb yq) "+
		"or wecube-4.0.0 (docker-compose on a Docker Engine the lab starts; needs root and .ci/run's packages)")
	f.StringVar(&o.chartSrc, "lab-chart", "tests/testdata/charts/c7n-service", "the lab chart the choerodon demo packages under each real chart's name")
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

	// Payloads are encrypted (a key generated once into the state folder):
	// the dev server's database holds ciphertext, as a site's would, and
	// the Web UI decodes them through the codec server.
	keys := filepath.Join(o.stateDir, "codec.keys")
	if err := ensureCodecKeys(keys); err != nil {
		return fmt.Errorf("unable to create the demo's codec key: %w", err)
	}
	selfEnv = config.EnvPrefix + "_TEMPORAL_CODEC_KEYFILE=" + keys + " "
	pc, err := app.Codec(config.Codec{KeyFile: keys})
	if err != nil {
		return err
	}
	codecSrv, codecAddr, err := serveCodec(ctx, "127.0.0.1:"+o.codecPort, pc, codec.ServerOptions{
		Origins: []string{"http://127.0.0.1:" + o.uiPort, "http://localhost:" + o.uiPort}})
	if err != nil {
		return err
	}
	defer codecSrv.Close()

	addr := "127.0.0.1:" + o.port
	fmt.Fprintf(out, "starting the Temporal dev server on %s (logs: %s)…\n", addr, logf.Name())
	srv, err := app.StartDevServer(ctx, app.DevServerOptions{HostPort: addr, UIPort: o.uiPort,
		DBFile: filepath.Join(o.stateDir, "temporal.db"), Log: logf, CodecEndpoint: "http://" + codecAddr})
	if err != nil {
		return err
	}
	defer srv.Stop()

	cfg := config.Defaults()
	cfg.Temporal.Address = addr
	cfg.Temporal.UIAddress = "http://127.0.0.1:" + o.uiPort
	cfg.ArtifactDir = filepath.Join(o.stateDir, "artifacts")
	cfg.Temporal.Codec.KeyFile = keys
	cfg.Demo = true
	var in workflows.Input
	switch o.guide {
	case "demo":
		din, err := demoLab(ctx, o, &cfg)
		if err != nil {
			return err
		}
		in = din
	case "choerodon-0.21-0.22":
		fmt.Fprintln(out, "starting the Kubernetes lab (etcd, kube-apiserver, simulated pods, MariaDB) and seeding a Choerodon 0.21 site…")
		cin, stopLab, err := c7nDemoLab(o, &cfg, logf)
		if err != nil {
			return err
		}
		defer stopLab()
		in = cin
	case "dce5-skoala":
		fmt.Fprintln(out, "starting the Kubernetes lab (four clusters: etcd, kube-apiserver, controllers, simulated pods each) with skoala 0.18.3…")
		sin, stopLab, err := skoalaDemoLab(o, &cfg, logf)
		if err != nil {
			return err
		}
		defer stopLab()
		in = sin
	case "blueking-6.1-6.2":
		fmt.Fprintln(out, "starting the BlueKing lab (four sshd hosts, MariaDB, FerretDB, the stand-ins) with a 6.1 site…")
		bin, stopLab, err := blueKingDemoLab(o, &cfg, logf)
		if err != nil {
			return err
		}
		defer stopLab()
		in = bin
	case "wecube-4.0.0":
		fmt.Fprintln(out, "starting the WeCube lab (dockerd, the guide's four images from the stand-in, two MariaDB servers as a v3 site, sshd)…")
		win, stopLab, err := weCubeDemoLab(o, &cfg, logf)
		if err != nil {
			return err
		}
		defer stopLab()
		in = win
	default:
		return fmt.Errorf("--guide %q: the demo runs guide demo, choerodon-0.21-0.22, dce5-skoala, blueking-6.1-6.2 or wecube-4.0.0", o.guide)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	wctx, stopWorker := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() { werr <- app.RunWorker(wctx, cfg, app.NewLogger("info", logf)) }()
	defer func() { stopWorker(); <-werr }()

	c, err := app.Dial(ctx, cfg.Temporal, app.NewLogger("error", logf))
	if err != nil {
		return err
	}
	defer c.Close()
	spec, err := workflows.Lookup(o.guide)
	if err != nil {
		return err
	}
	id := runbook.WorkflowID(spec.Name, in.GetTarget().Environment)
	if o.autoApprove {
		// One person runs the demo and approves its destructive gate:
		// the run's config says so, as a one-person lab's would.
		t := in.GetTarget()
		if t.Approvers == nil {
			t.Approvers = &runbook.Approvers{}
		}
		t.Approvers.AllowSelfApproval = true
	}
	run, err := startUpgrade(ctx, c, cfg, spec, in)
	var running *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && o.guide != "demo" && (errors.As(errors.Unwrap(err), &running) || strings.Contains(err.Error(), "already running")) {
		// The Kubernetes lab lives only as long as the demo: a run left
		// from last time points at a cluster that is gone.
		fmt.Fprintf(out, "ending %s, left running by an earlier demo whose lab is gone\n", id)
		if terr := c.TerminateWorkflow(ctx, id, "", "starter demo: the lab of this run is gone"); terr != nil {
			return terr
		}
		run, err = startUpgrade(ctx, c, cfg, spec, in)
	}
	switch {
	case err == nil:
		fmt.Fprintf(out, "started the demo upgrade %s (run %s)\n", id, run.GetRunID())
	case errors.As(errors.Unwrap(err), &running) || strings.Contains(err.Error(), "already running"):
		fmt.Fprintf(out, "the demo upgrade %s is already running from last time; following it\n", id)
	default:
		return err
	}
	fmt.Fprintf(out, "Web UI: %s\nplan:   %s plan %s -c %s\n\n", uiLink(cfg, id), self(), spec.Name, spec.Example)

	wo := watchOptions{}
	if o.autoApprove {
		wo.onWaiting = func(s runbook.StepStatus) error {
			if s.State != runbook.StepWaitingApproval {
				return nil
			}
			who, err := identity(cfg)
			if err != nil {
				return err
			}
			_, err = update(ctx, c, id, runbook.UpdateApprove, runbook.Approval{
				Step: s.Name, By: who.Name, Who: &who, Comment: "approved by --auto-approve"})
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
	if p := reportPath(ctx, c, cfg.ArtifactDir, id); p != "" {
		fmt.Fprintf(out, "report: %s (open it in a browser; report.md beside it)\n", p)
	}
	if o.exit {
		return nil
	}
	fmt.Fprintf(out, "the Web UI stays up at %s; press Ctrl-C to stop\n", cfg.Temporal.UIAddress)
	<-ctx.Done()
	return nil
}

// freshDemoLab empties the lab folder of one guide's demo,
// <state>/lab-<name>, and returns a lab harness in it that logs to log.
func freshDemoLab(o demoOptions, name string, log io.Writer) (*lab.Lab, string) {
	dir := filepath.Join(o.stateDir, "lab-"+name)
	_ = os.RemoveAll(dir)
	h := lab.New(dir)
	h.Logf = func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	return h, dir
}

// demoLab prepares the demo guide's lab of fake releases and its secret.
func demoLab(ctx context.Context, o demoOptions, cfg *config.Worker) (*workflows.DemoInput, error) {
	lab := filepath.Join(o.stateDir, "lab")
	in := workflows.NewDemoInput()
	in.LabDir = lab
	in.Work = o.work
	if err := seedDemoLab(lab, in); err != nil {
		return nil, err
	}
	health, err := serveDemoHealth(ctx, lab, in.To)
	if err != nil {
		return nil, err
	}
	in.HealthURL = health + "/{release}/actuator/health"
	secretFile := filepath.Join(o.stateDir, "secrets", "demo-db-password")
	if err := ensureSecretFile(secretFile); err != nil {
		return nil, err
	}
	cfg.Secrets = map[string]config.Secret{in.PasswordRef: {File: secretFile}}
	return &in, nil
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
