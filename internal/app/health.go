package app

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"upgrader/internal/metrics"
)

// health answers the worker's probes on the metrics address: /healthz
// (liveness: the process serves and has not begun stopping) and /readyz
// (readiness: the worker polls its task queue and the Temporal frontend
// answers a health check now). A Kubernetes Deployment restarts a worker
// whose /healthz fails and shows one whose /readyz fails as not ready,
// e.g. while Temporal is unreachable.
type health struct {
	started  atomic.Bool
	stopping atomic.Bool
	client   atomic.Pointer[client.Client]
}

func (h *health) routes() []metrics.Route {
	return []metrics.Route{
		{Path: "/healthz", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h.stopping.Load() {
				http.Error(w, "stopping", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok\n"))
		})},
		{Path: "/readyz", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := h.client.Load()
			if c == nil || !h.started.Load() || h.stopping.Load() {
				http.Error(w, "the worker is not polling yet", http.StatusServiceUnavailable)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			if _, err := (*c).CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
				http.Error(w, "Temporal does not answer: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok\n"))
		})},
	}
}
