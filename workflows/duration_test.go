package workflows_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/workflows"
)

// The Web UI shows a run's input as its JSON: durations read "15m0s", not
// 900000000000. A history recorded when they were numbers still decodes
// to the same values (TestReplayRecordedHistories replays it whole).
func TestInputDurationsAreHumanStringsAndOldHistoriesDecode(t *testing.T) {
	in := workflows.NewChoerodon021Input()
	b, err := json.Marshal(in)
	require.NoError(t, err)
	require.Contains(t, string(b), `"helmTimeout":"15m0s"`)
	require.Contains(t, string(b), `"gateRemindAfter":"1h0m0s"`)
	require.NotContains(t, string(b), `900000000000`)

	var h struct {
		Events []struct {
			Attrs struct {
				Input struct {
					Payloads []struct {
						Data string `json:"data"`
					} `json:"payloads"`
				} `json:"input"`
			} `json:"workflowExecutionStartedEventAttributes"`
		} `json:"events"`
	}
	raw, err := os.ReadFile("testdata/choerodon-0.21-0.22-history.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &h))
	data, err := base64.StdEncoding.DecodeString(h.Events[0].Attrs.Input.Payloads[0].Data)
	require.NoError(t, err)
	require.Contains(t, string(data), `"helmTimeout":900000000000`, "recorded as a number")
	var old workflows.Choerodon021Input
	require.NoError(t, json.Unmarshal(data, &old))
	require.Equal(t, 15*time.Minute, old.HelmTimeout.D())
	require.Equal(t, time.Hour, old.GateRemindAfter.D())
	again, err := json.Marshal(old)
	require.NoError(t, err)
	require.Contains(t, string(again), `"helmTimeout":"15m0s"`)
}
