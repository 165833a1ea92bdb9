package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	labsrv "upgrader/tests/lab"
)

// recordHistory writes the run's history to workflows/testdata/<file> for
// workflows/replay_test.go when UPGRADER_RECORD_HISTORY is set: a guide's
// end-to-end test on the lab is how its history is recorded.
func recordHistory(t *testing.T, id, file string) {
	t.Helper()
	recordHistoryFrom(t, temporalClient(), id, file)
}

// recordHistoryFrom is recordHistory for a run on the Temporal c serves.
func recordHistoryFrom(t testing.TB, c client.Client, id, file string) {
	t.Helper()
	if os.Getenv("UPGRADER_RECORD_HISTORY") == "" {
		return
	}
	hist := &historypb.History{}
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, ev)
	}
	// Replay tests read histories plain: the tests' codec key is theirs alone.
	require.NoError(t, labsrv.DecodeHistory(context.Background(), hist, payloadCodec))
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("..", "..", "workflows", "testdata", file), b, 0o644))
	t.Logf("recorded %d events of %s into workflows/testdata/%s", len(hist.Events), id, file)
}
