package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
)

// BenchmarkRecordedHistorySize reports the size of every recorded run
// (testdata/*-history.json: real runs of each guide on the lab, with their
// worker kills): events and encoded bytes, against Temporal's limits of
// 51,200 events and 50 MB per history and issue 14's goal of < 2,000 events
// and 1 MB for a run with every gate answered. A guide that records its run
// there is measured here too.
func BenchmarkRecordedHistorySize(b *testing.B) {
	files, err := filepath.Glob("testdata/*-history.json")
	if err != nil || len(files) == 0 {
		b.Skip("no recorded histories")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), "-history.json")
		b.Run(name, func(b *testing.B) {
			var events, size int
			for i := 0; i < b.N; i++ {
				r, err := os.Open(f)
				if err != nil {
					b.Fatal(err)
				}
				h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
				r.Close()
				if err != nil {
					b.Fatal(err)
				}
				events, size = len(h.GetEvents()), proto.Size(h)
			}
			b.ReportMetric(float64(events), "events/run")
			b.ReportMetric(float64(size)/1024, "history-KiB/run")
		})
	}
}
