package integration_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	labsrv "upgrader/tests/lab"
	"upgrader/workflows/runbook"
)

// The history checker must see a secret wherever it is planted: in a
// workflow input (an encrypted payload) in each encoding, in a worker's
// log, in a journal file; and it must see a payload the codec did not
// encrypt.
func TestHistoryCheckerFindsAPlantedSecretInEveryForm(t *testing.T) {
	const pw = "planted-Secret-pw-4417"
	l := newLab(t, "planted", 1)
	startWorker(t, l.workerCfg, "DEMO_DB_PASSWORD=other-value-123456")
	ctx := context.Background()
	check := func(id string, logs map[string]string, dir string, encrypted bool) []labsrv.Finding {
		t.Helper()
		found, err := labsrv.FindSecrets(ctx, labsrv.SecretCheck{Client: temporalClient(), Codec: payloadCodec,
			WorkflowID: id, Secrets: []string{pw}, Logs: logs, ArtifactDir: dir, MinEvents: 1, Encrypted: encrypted})
		require.NoError(t, err)
		return found
	}
	basic := base64.StdEncoding.EncodeToString([]byte("root:" + pw))
	jsonEsc, _ := json.Marshal("q\"" + pw)
	for form, planted := range map[string]string{
		"raw":       pw,
		"base64":    "Basic " + basic,
		"url-query": "https://h/?p=" + url.QueryEscape("&"+pw),
		"json":      string(jsonEsc),
	} {
		id := runbook.WorkflowID("planted", strings.ReplaceAll(form, "-", ""))
		// The demo workflow with the secret in a config field: the input
		// is stored (encrypted) before validation refuses it.
		_, err := temporalClient().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "upgrader"},
			"DemoUpgrade", map[string]any{"guide": "demo", "environment": "planted", "labDir": planted})
		require.NoError(t, err)
		eventually(t, 20*time.Second, "the run's end", func() bool {
			d, err := temporalClient().DescribeWorkflowExecution(ctx, id, "")
			return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
		})
		found := check(id, nil, "", true)
		require.NotEmpty(t, found, "the %s form in an encrypted input", form)
		require.Contains(t, found[0].Where, "WorkflowExecutionStarted")
	}

	// Logs and journal files.
	id := runbook.WorkflowID("planted", "raw")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "upgrade", "x", "journal.log"), "t\tstep\t1\tdone\tpw="+url.PathEscape(pw)+"\n")
	found := check(id, map[string]string{"worker": "dsn " + basic}, dir, true)
	var where []string
	for _, f := range found {
		where = append(where, f.Where)
	}
	require.Contains(t, where, "worker")
	require.Contains(t, where, filepath.Join(dir, "upgrade", "x", "journal.log"))

	// A payload written without the codec is found as unencrypted.
	plainID := runbook.WorkflowID("planted", "plain")
	_, err := server.Client().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: plainID, TaskQueue: "nobody-polls"}, "DemoUpgrade", "x")
	require.NoError(t, err)
	_, err = labsrv.FindSecrets(ctx, labsrv.SecretCheck{Client: temporalClient(), Codec: payloadCodec,
		WorkflowID: plainID, Secrets: []string{pw}, MinEvents: 1, Encrypted: true})
	require.ErrorContains(t, err, "a payload is not encrypted")
	require.NoError(t, temporalClient().TerminateWorkflow(ctx, plainID, "", "test over"))
}
