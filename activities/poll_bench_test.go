package activities_test

import (
	"context"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"upgrader/activities"
)

// detectionSamples is how many samples one op of a detection benchmark
// takes, so that make bench's default -benchtime gives a p95 of 30.
const detectionSamples = 30

// BenchmarkWaitDetectionLatency is issue 14's detection latency for a wait
// with the worker's default probe settings: a service turns UP at a random
// moment 0–3 s after the wait starts; the latency is from that moment to
// the wait returning. Each op is detectionSamples
// samples; it reports their p50 and p95.
func BenchmarkWaitDetectionLatency(b *testing.B) {
	var upAt atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := upAt.Load(); t != 0 && time.Now().UnixNano() >= t {
			w.Write([]byte(`{"status":"UP"}`))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"DOWN"}`))
	}))
	defer srv.Close()
	h := &activities.HTTP{Client: srv.Client(), PollInterval: activities.DefaultPollInterval}
	rng := rand.New(rand.NewSource(1))
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N*detectionSamples; i++ {
		at := time.Now().Add(time.Duration(rng.Int63n(int64(3 * time.Second))))
		upAt.Store(at.UnixNano())
		if _, err := h.WaitUntil(context.Background(), activities.WaitHTTPInput{URL: srv.URL, JSONField: "status", Equals: "UP"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(at))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Milliseconds()), "p95-ms")
}
