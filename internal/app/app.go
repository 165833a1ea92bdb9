// Package app wires config into Temporal clients and workers; the worker
// main, the starter and the tests share it so they connect the same way.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/codec"
	"upgrader/internal/contract"
	"upgrader/internal/metrics"
	"upgrader/internal/notify"
	"upgrader/workflows"
)

// NewLogger returns a text logger at the given level.
func NewLogger(level string, w io.Writer) tlog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})))
}

// Dial connects to Temporal as the config says.
func Dial(ctx context.Context, cfg config.Temporal, logger tlog.Logger, with ...func(*client.Options)) (client.Client, error) {
	opts := client.Options{HostPort: cfg.Address, Namespace: cfg.Namespace, Logger: logger}
	if cfg.Codec.Enabled() {
		c, err := Codec(cfg.Codec)
		if err != nil {
			return nil, err
		}
		opts.DataConverter, opts.FailureConverter = c.DataConverter(), c.FailureConverter()
	}
	if cfg.TLS.Enabled {
		tc, err := tlsConfig(cfg.TLS)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	for _, f := range with {
		f(&opts)
	}
	// A lost worker's next try reads what the lost one recorded (workflows/runbook).
	opts.ContextPropagators = append(opts.ContextPropagators, contract.CarryPropagator(opts.DataConverter))
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("unable to reach Temporal at %s (namespace %s): %w; is the server running? "+
			"(`make demo` starts a local one)", cfg.Address, cfg.Namespace, err)
	}
	return c, nil
}

// Codec returns the payload codec the config names (temporal.codec).
func Codec(cfg config.Codec) (*codec.Codec, error) {
	ring, err := codec.LoadRing(cfg.KeyFile, cfg.KeyEnv)
	if err != nil {
		return nil, fmt.Errorf("temporal.codec: %w", err)
	}
	return codec.New(ring), nil
}

func tlsConfig(t config.TLS) (*tls.Config, error) {
	tc := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("unable to read temporal.tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.caFile %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("unable to load temporal.tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// DemoGuide is the guide a worker runs only with demo: true.
const DemoGuide = "demo"

// Register registers every guide's workflow and every activity struct,
// built from the config, on w.
func Register(w worker.Registry, cfg config.Worker, secrets *config.SecretStore) {
	if !cfg.ActivitiesOnly {
		for _, g := range workflows.Guides() {
			if g.Name == DemoGuide && !cfg.Demo {
				continue
			}
			w.RegisterWorkflowWithOptions(g.Workflow, workflow.RegisterOptions{Name: g.WorkflowType})
		}
		w.RegisterWorkflowWithOptions(workflows.Preflight, workflow.RegisterOptions{Name: workflows.PreflightWorkflowType})
	}
	art := &activities.Artifacts{Root: cfg.ArtifactDir}
	if cfg.Demo {
		w.RegisterActivity(&activities.Demo{Artifacts: art, Secrets: secrets, Tick: time.Second})
	}
	var hooks []notify.Webhook
	for _, h := range cfg.Notify {
		hooks = append(hooks, notify.Webhook{Name: h.Name, Format: h.Format, URL: h.URL, URLRef: h.URLRef, SignRef: h.SignRef, Events: h.Events})
	}
	notifier := &activities.Notify{Sender: &notify.Sender{Webhooks: hooks, Secrets: secrets, Client: &http.Client{Timeout: 10 * time.Second}}}
	w.RegisterActivity(notifier)
	w.RegisterActivity(&activities.Report{Artifacts: art, Notify: notifier})
	w.RegisterActivity(&activities.HTTP{Client: &http.Client{Timeout: 10 * time.Second}, Secrets: secrets, PollInterval: activities.DefaultPollInterval,
		TrustedHosts: cfg.TrustedHosts})
	host := &activities.Host{Secrets: secrets, Scrub: secrets, Artifacts: art, KnownHostsFiles: cfg.SSH.KnownHostsFiles}
	w.RegisterActivity(host)
	w.RegisterActivity(&activities.MySQL{Secrets: secrets, Scrub: secrets, Artifacts: art, Host: host, SyncProgress: true})
	w.RegisterActivity(&activities.Mongo{Secrets: secrets, Scrub: secrets, Host: host})
	w.RegisterActivity(&activities.Compose{Host: host, Secrets: secrets, Scrub: secrets})
	w.RegisterActivity(&activities.WeCube{Client: &http.Client{Timeout: 15 * time.Second}, Secrets: secrets, Scrub: secrets})
	clusters := map[string]activities.Cluster{}
	for name, c := range cfg.Clusters {
		clusters[name] = activities.Cluster{Kubeconfig: c.Kubeconfig, Context: c.Context}
	}
	// One cache of the clusters' discovery for Helm and Kube: a CRD either applies invalidates both.
	apiCache := activities.NewKubeCache(activities.DefaultKubeCacheTTL)
	w.RegisterActivity(&activities.Helm{Clusters: clusters, ChartDirs: cfg.ChartDirs, Repos: cfg.ChartRepos,
		CacheDir: cfg.ChartCache, Secrets: secrets, Artifacts: art, APICache: apiCache})
	w.RegisterActivity(&activities.Kube{Clusters: clusters, PollInterval: activities.DefaultPollInterval, APICache: apiCache})
	w.RegisterActivity(&activities.Preflight{Secrets: secrets, Scrub: secrets, Clusters: clusters, ArtifactDir: cfg.ArtifactDir,
		KnownHostsFiles: cfg.SSH.KnownHostsFiles})
}

// StickyScheduleToStart is how long a run's next workflow task waits for
// the worker that ran its last one (which holds the run in its cache)
// before any worker takes it and replays the history. A worker that died
// between steps costs the run this long; the SDK's default is 5 s. A live
// worker takes its tasks in milliseconds (schedule-to-start p95 7–15 ms in
// the fleet benchmark), and missing the wait costs one replay, not a
// failure; see README (kill sweep) for the figures.
const StickyScheduleToStart = time.Second

// WorkerOptions are the options every upgrader worker runs with: secrets
// scrubbed from activity failures, a graceful stop that gives running
// activities time to record their last heartbeat, and a short sticky wait.
func WorkerOptions(secrets *config.SecretStore) worker.Options {
	ics := []interceptor.WorkerInterceptor{activities.NewScrubInterceptor(secrets)}
	if c := labHeartbeatCap(); c != nil {
		ics = append(ics, c)
	}
	return worker.Options{
		Interceptors:                 ics,
		WorkerStopTimeout:            10 * time.Second,
		StickyScheduleToStartTimeout: StickyScheduleToStart,
	}
}

// RunWorker connects, registers everything and runs until ctx is done.
func RunWorker(ctx context.Context, cfg config.Worker, logger tlog.Logger) error {
	if err := os.MkdirAll(cfg.ArtifactDir, 0o700); err != nil {
		return fmt.Errorf("unable to create artifactDir %s: %w", cfg.ArtifactDir, err)
	}
	secrets := config.NewSecretStoreFor(cfg)
	if err := secrets.ResolveAll(); err != nil {
		return err
	}

	var with []func(*client.Options)
	probes := &health{}
	if cfg.Metrics.Address != "" {
		m, err := metrics.New(logger)
		if err != nil {
			return err
		}
		addr, err := m.Serve(ctx, cfg.Metrics.Address, probes.routes()...)
		if err != nil {
			return err
		}
		logger.Info("serving metrics and health checks", "url", "http://"+addr.String()+"/metrics",
			"liveness", "/healthz", "readiness", "/readyz")
		with = append(with, func(o *client.Options) { o.MetricsHandler = m.Handler })
	}
	if cfg.Site != "" {
		// The site in the identity: history's ActivityTaskStarted events
		// and `starter status` say which site's worker ran a step.
		host, _ := os.Hostname()
		id := fmt.Sprintf("%d@%s@site:%s", os.Getpid(), host, cfg.Site)
		with = append(with, func(o *client.Options) { o.Identity = id })
	}
	c, err := Dial(ctx, cfg.Temporal, logger, with...)
	if err != nil {
		return err
	}
	defer c.Close()
	probes.client.Store(&c)
	opts := WorkerOptions(secrets)
	// A site's worker runs the steps sent to its queue, not workflows.
	opts.DisableWorkflowWorker = cfg.ActivitiesOnly
	w := worker.New(c, cfg.Temporal.TaskQueue, opts)
	Register(w, cfg, secrets)
	logger.Info("worker starting", "address", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace,
		"taskQueue", cfg.Temporal.TaskQueue, "site", cfg.Site, "activitiesOnly", cfg.ActivitiesOnly,
		"guides", len(workflows.Guides()))
	if err := w.Start(); err != nil {
		return fmt.Errorf("unable to start the worker: %w", err)
	}
	probes.started.Store(true)
	<-ctx.Done()
	probes.stopping.Store(true)
	logger.Info("worker stopping")
	w.Stop()
	return nil
}
