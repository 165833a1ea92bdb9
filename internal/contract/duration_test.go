package contract_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/internal/contract"
)

type withDurations struct {
	Timeout  contract.Duration  `json:"timeout"`
	Interval contract.Duration  `json:"interval,omitempty"`
	Remind   *contract.Duration `json:"remind,omitempty"`
}

// Inputs write durations as a person reads them, and read what histories
// recorded before (nanoseconds) as well as strings.
func TestDurationJSONIsAStringAndReadsNumbers(t *testing.T) {
	b, err := json.Marshal(withDurations{Timeout: contract.Duration(3 * time.Minute)})
	require.NoError(t, err)
	require.JSONEq(t, `{"timeout":"3m0s"}`, string(b), "a zero duration with omitempty is left out")

	for in, want := range map[string]time.Duration{
		`{"timeout":"3m0s"}`:         3 * time.Minute,
		`{"timeout":"1h30m"}`:        90 * time.Minute,
		`{"timeout":180000000000}`:   3 * time.Minute, // a recorded history
		`{"timeout":1.5e9}`:          1500 * time.Millisecond,
		`{"timeout":"-1s"}`:          -time.Second,
		`{"timeout":null}`:           0,
		`{"timeout":"0s"}`:           0,
		`{"timeout":  "250ms"  }`:    250 * time.Millisecond,
		`{"timeout":900000000000.0}`: 15 * time.Minute,
	} {
		var v withDurations
		require.NoError(t, json.Unmarshal([]byte(in), &v), in)
		require.Equal(t, want, v.Timeout.D(), in)
	}
	var v withDurations
	require.NoError(t, json.Unmarshal([]byte(`{"timeout":"2s","remind":3600000000000}`), &v))
	require.Equal(t, time.Hour, v.Remind.D())
	require.Equal(t, "1h0m0s", v.Remind.String())

	for _, bad := range []string{`{"timeout":"20"}`, `{"timeout":"soon"}`, `{"timeout":true}`, `{"timeout":[1]}`} {
		require.Error(t, json.Unmarshal([]byte(bad), &v), bad)
	}
	err = json.Unmarshal([]byte(`{"timeout":"20"}`), &v)
	require.ErrorContains(t, err, "write 90s, 20m, 1h30m")
}
