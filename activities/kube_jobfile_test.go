package activities_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/tests/lab"
)

// TestJobFileHoldsTheGuidesFixedSweetValues: skoala's job.yaml is checked
// before anything changes — the Job by name, and the sweet block the guide
// fixes, found inside the ConfigMap's config.yaml string; every problem is
// named at once.
func TestJobFileHoldsTheGuidesFixedSweetValues(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "job.yaml")
	require.NoError(t, os.WriteFile(good, []byte(lab.SkoalaDBJob("skoala-db-upgrade", "1s", nil)), 0o600))
	k := &activities.Kube{}
	want := map[string]string{"type": "UPGRADE", "target": "0.17.0", "tag": "v0.19.0"}
	out, err := k.PreflightJobFile(context.Background(), activities.JobFileInput{Path: good, Job: "skoala-db-upgrade", Block: "sweet", Want: want})
	require.NoError(t, err)
	require.Contains(t, out.Summary, "skoala-db-upgrade")

	bad := filepath.Join(dir, "bad.yaml")
	text := strings.Replace(lab.SkoalaDBJob("other-job", "1s", nil), "target: 0.17.0", "target: 0.18.0", 1)
	require.NoError(t, os.WriteFile(bad, []byte(text), 0o600))
	_, err = k.PreflightJobFile(context.Background(), activities.JobFileInput{Path: bad, Job: "skoala-db-upgrade", Block: "sweet", Want: want})
	require.ErrorContains(t, err, "holds no Job named skoala-db-upgrade")
	require.ErrorContains(t, err, `sweet.target is "0.18.0"; the guide fixes it at "0.17.0"`)

	_, err = k.PreflightJobFile(context.Background(), activities.JobFileInput{Path: filepath.Join(dir, "missing.yaml"), Job: "x", Block: "sweet", Want: want})
	require.ErrorContains(t, err, "cannot be read on the worker")
}
