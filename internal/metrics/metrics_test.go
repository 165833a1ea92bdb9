package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHandlerMetricsReachPrometheusNames(t *testing.T) {
	m, err := New(nil)
	require.NoError(t, err)
	h := m.Handler.WithTags(map[string]string{"guide": "demo", "kind": "helm", "state": "done"})
	h.Counter("upgrader_steps").Inc(2)
	h.Timer("upgrader_step_duration").Record(1500 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	var steps, durCount string
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, "upgrader_steps_total{") {
			steps = l
		}
		if strings.HasPrefix(l, "upgrader_step_duration_seconds_count{") {
			durCount = l
		}
	}
	require.Contains(t, steps, `guide="demo"`, page)
	require.Contains(t, steps, `kind="helm"`)
	require.True(t, strings.HasSuffix(steps, " 2"), steps)
	require.True(t, strings.HasSuffix(durCount, " 1"), durCount)
	require.Contains(t, page, "go_goroutines")

	_, err = m.Serve(ctx, addr.String())
	require.ErrorContains(t, err, "metrics.address", "an address in use is an error at start")
}
