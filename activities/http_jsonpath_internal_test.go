package activities

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// ExpectJSON's paths read through the one walker: what each path gives.
func TestJSONPathReadsThroughTheOneWalker(t *testing.T) {
	var doc any
	require.NoError(t, json.Unmarshal([]byte(`{"code":0,"ok":true,"data":{"items":[{"name":"a","n":1.5},{"name":"b"}],"empty":[],"nil":null}}`), &doc))
	for path, want := range map[string]struct {
		got   string
		found bool
	}{
		"code":              {"0", true},
		"ok":                {"true", true},
		"data.items.1.name": {"b", true},
		"data.items.0.n":    {"1.5", true},
		"data.items.*.name": {"a", true}, // a list's first element with the path
		"data.nil":          {"null", true},
		"data.items.2.name": {"", false}, // past the end
		"data.empty.*":      {"", false},
		"data.missing":      {"", false},
		"data.items.x":      {"", false}, // not an index
		"code.x":            {"", false}, // into a number
	} {
		got, found := jsonPath(doc, path)
		require.Equal(t, want.found, found, path)
		require.Equal(t, want.got, got, path)
	}
}
