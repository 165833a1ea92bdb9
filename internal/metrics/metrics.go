// Package metrics serves the worker's /metrics for Prometheus: the Temporal
// SDK's own metrics (workflow and activity task latencies, polls, failures)
// through go.temporal.io/sdk/contrib/opentelemetry and OpenTelemetry's
// Prometheus exporter, and the runs' own metrics, which the runbook records
// through the same handler (workflow.GetMetricsHandler: nothing is recorded
// while a workflow replays, so a step is counted once).
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	tlog "go.temporal.io/sdk/log"
)

// Metrics holds the SDK's metrics handler and the HTTP handler serving it.
type Metrics struct {
	// Handler goes into client.Options.MetricsHandler.
	Handler client.MetricsHandler
	// HTTP serves the Prometheus text format.
	HTTP     http.Handler
	provider *sdkmetric.MeterProvider
}

// New builds the registry: Go and process collectors, and every metric the
// SDK and the runbook record through Handler.
func New(logger tlog.Logger) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("unable to set up the Prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	h := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter("upgrader"),
		UseMonotonicCounters: true,
		OnError: func(err error) {
			if logger != nil {
				logger.Warn("a metric could not be recorded", "error", err)
			}
		},
	})
	return &Metrics{Handler: h, HTTP: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), provider: provider}, nil
}

// Route is one more path served beside /metrics (the worker's health
// checks: a Kubernetes probe reaches the same port Prometheus scrapes).
type Route struct {
	Path    string
	Handler http.Handler
}

// Serve listens on addr and serves /metrics, and routes, until ctx ends. It
// returns once the listener is open (an address in use is an error at
// start), serving in the background.
func (m *Metrics) Serve(ctx context.Context, addr string, routes ...Route) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("unable to serve metrics on %s (metrics.address): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.HTTP)
	for _, r := range routes {
		mux.Handle(r.Path, r.Handler)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = l.Close()
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = m.provider.Shutdown(sctx)
	}()
	return l.Addr(), nil
}
