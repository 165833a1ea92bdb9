package activities

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseCheckLog(t *testing.T) {
	for _, c := range []struct {
		name, text string
		items      int
		failed     []string
		bad        bool
	}{
		{name: "0.21 data repair: nothing listed", text: "[]"},
		{name: "no log", text: ""},
		{name: "all success", text: `[{"content":"app: demo create gitlab webhook","result":"success"},{"content":"app: demo sync branches","result":"success"}]`, items: 2},
		{name: "one failed", text: `[{"content":"app: demo create gitlab webhook","result":"failed: 404 Project Not Found"},{"content":"app: b sync branches","result":"success"}]`,
			items: 2, failed: []string{"app: demo create gitlab webhook: failed: 404 Project Not Found"}},
		{name: "0.19's fail", text: `[{"content":"Sync environment application relationship,envId: 1, appId: 2","result":"fail"}]`,
			items: 1, failed: []string{"Sync environment application relationship,envId: 1, appId: 2: fail"}},
		{name: "not JSON", text: "done", bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			entries, failed, err := parseCheckLog(c.text)
			if c.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Len(t, entries, c.items)
			require.Equal(t, c.failed, failed)
		})
	}
}
