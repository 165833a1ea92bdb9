package activities_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/secret"
)

type leakyResult struct {
	Excerpt string `json:"excerpt"`
	Lines   int    `json:"lines"`
}

// Results, heartbeat details and error details pass through the scrubber
// in the interceptor, in every form the secret takes.
func TestTheInterceptorScrubsResultsHeartbeatsAndErrorDetails(t *testing.T) {
	const pw = "Intercept-pw-31337"
	store := config.NewSecretStore(map[string]config.Secret{"db": {Env: "SCRUB_TEST_PW"}})
	t.Setenv("SCRUB_TEST_PW", pw)
	require.NoError(t, store.ResolveAll())
	basic := base64.StdEncoding.EncodeToString([]byte("root:" + pw))

	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{activities.NewScrubInterceptor(store)}})
	var beats []string
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var v leakyResult
		if d.Get(&v) == nil {
			beats = append(beats, v.Excerpt)
		}
	})
	env.RegisterActivityWithOptions(func(ctx context.Context, fail bool) (leakyResult, error) {
		activity.RecordHeartbeat(ctx, leakyResult{Excerpt: "Authorization: Basic " + basic})
		if fail {
			return leakyResult{}, temporal.NewNonRetryableApplicationError("failed", "Leak", nil,
				leakyResult{Excerpt: "?pw=" + url.QueryEscape(pw)})
		}
		return leakyResult{Excerpt: `{"password":"` + pw + `"}`, Lines: 3}, nil
	}, activity.RegisterOptions{Name: "Leak"})
	type out struct {
		Res        leakyResult
		ErrMessage string
		Details    leakyResult
	}
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (out, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10e9})
		var o out
		if err := workflow.ExecuteActivity(ctx, "Leak", false).Get(ctx, &o.Res); err != nil {
			return o, err
		}
		err := workflow.ExecuteActivity(ctx, "Leak", true).Get(ctx, nil)
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			o.ErrMessage = app.Message()
			_ = app.Details(&o.Details)
		}
		return o, nil
	}, workflow.RegisterOptions{Name: "LeakWorkflow"})
	env.ExecuteWorkflow("LeakWorkflow")
	require.NoError(t, env.GetWorkflowError())
	var o out
	require.NoError(t, env.GetWorkflowResult(&o))
	require.Equal(t, `{"password":"***"}`, o.Res.Excerpt)
	require.Equal(t, 3, o.Res.Lines)
	require.Equal(t, "?pw=***", o.Details.Excerpt)
	require.NotEmpty(t, beats)
	for _, b := range beats {
		require.Empty(t, secret.Find(b, pw), b)
	}
}

// Every configured secret is resolved at start; a missing one is named.
func TestResolveAllNamesEveryMissingOrShortSecret(t *testing.T) {
	store := config.NewSecretStore(map[string]config.Secret{
		"a-missing": {Env: "SCRUB_TEST_UNSET"}, "b-short": {Env: "SCRUB_TEST_SHORT"}, "c-ok": {Value: "long-enough"}})
	t.Setenv("SCRUB_TEST_SHORT", "abc")
	err := store.ResolveAll()
	require.ErrorContains(t, err, `secret "a-missing" comes from environment variable SCRUB_TEST_UNSET, which is not set`)
	require.ErrorContains(t, err, `secret "b-short" is shorter than 6 characters`)
	require.NotContains(t, err.Error(), "c-ok")
}

// Output is scrubbed whole before it is split into lines: a secret that
// arrives in two reads, or holds a line break, is replaced whole.
func TestStreamScrubberReplacesASecretSplitAcrossReadsAndLines(t *testing.T) {
	const pw = "two-line\nsecret-9907"
	store := config.NewSecretStore(map[string]config.Secret{"k": {Value: pw}})
	pr, pw2 := io.Pipe()
	r := activities.ScrubReaderForTest(store, pr)
	go func() {
		_, _ = io.WriteString(pw2, "before two-li")
		_, _ = io.WriteString(pw2, "ne\nsecret-99")
		_, _ = io.WriteString(pw2, "07 after\n")
		_ = pw2.Close()
	}()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "before *** after\n", string(b))
}
