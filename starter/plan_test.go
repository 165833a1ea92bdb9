package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPlanRefusesSecretsTheWorkerLacks: given the worker's config, `plan`
// names every secret the upgrade config refers to that the worker does not
// have, by key; without it, the plan prints.
func TestPlanRefusesSecretsTheWorkerLacks(t *testing.T) {
	wc := filepath.Join(t.TempDir(), "worker.yaml")
	require.NoError(t, os.WriteFile(wc, []byte("secrets:\n  c7n-db-choerodon: {value: lab-pw-x1}\n"), 0o600))
	example := filepath.Join("..", "config", "examples", "choerodon-0.21-0.22.yaml")

	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"plan", "choerodon-0.21-0.22", "-c", example, "--worker-config", wc})
	err := root.Execute()
	require.Error(t, err)
	require.Contains(t, err.Error(), `db.admin.passwordRef: names secret "c7n-db-root", which the worker config does not have`)
	require.NotContains(t, err.Error(), "db.passwordRef:")

	root = newRoot()
	root.SetOut(&out)
	root.SetArgs([]string{"plan", "choerodon-0.21-0.22", "-c", example})
	require.NoError(t, root.Execute())
	require.Contains(t, out.String(), "preflight/api")
}
