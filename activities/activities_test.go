package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
)

func TestWaitUntilPollsARealEndpointUntilUP(t *testing.T) {
	var probes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probes.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"DOWN"}`)
			return
		}
		fmt.Fprint(w, `{"status":"UP","groups":["liveness"]}`)
	}))
	defer srv.Close()

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	h := &activities.HTTP{PollInterval: 10 * time.Millisecond}
	env.RegisterActivity(h)
	val, err := env.ExecuteActivity(h.WaitUntil, activities.WaitHTTPInput{URL: srv.URL + "/actuator/health", JSONField: "status", Equals: "UP"})
	require.NoError(t, err)
	var res activities.WaitHTTPResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, 3, res.Probes)
	require.Contains(t, res.Summary, `ready after 3 probes: HTTP 200 {"status":"UP"`)
}

func TestWaitUntilChecksAnHTMLTitle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Choerodon</title></head></html>`)
	}))
	defer srv.Close()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	h := &activities.HTTP{PollInterval: 10 * time.Millisecond}
	env.RegisterActivity(h)
	_, err := env.ExecuteActivity(h.WaitUntil, activities.WaitHTTPInput{URL: srv.URL, BodyContains: "<title>Choerodon"})
	require.NoError(t, err)
}

func TestWaitUntilGivesUpBeforeItsDeadlineWithTheLastResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":"DOWN","details":"db unreachable"}`)
	}))
	defer srv.Close()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetTestTimeout(10 * time.Second)
	h := &activities.HTTP{PollInterval: 100 * time.Millisecond}
	env.RegisterActivity(h)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	env.SetWorkerOptions(testsuiteWorkerOptions(ctx))
	_, err := env.ExecuteActivity(h.WaitUntil, activities.WaitHTTPInput{URL: srv.URL, JSONField: "status", Equals: "UP"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "not ready after")
	require.Contains(t, err.Error(), `last: HTTP 503 {"status":"DOWN","details":"db unreachable"}`)
}

func TestScrubErrorKeepsTypeAndRetryability(t *testing.T) {
	s := config.NewSecretStore(map[string]config.Secret{"db": {Value: "hunter2-long"}})
	err := activities.ScrubError(s, temporal.NewNonRetryableApplicationError(
		"mysqldump -u root -phunter2-long failed", "DumpFailed", nil))
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	require.Equal(t, "mysqldump -u root -p*** failed", app.Message())
	require.Equal(t, "DumpFailed", app.Type())
	require.True(t, app.NonRetryable())

	plain := activities.ScrubError(s, fmt.Errorf("dial: %w", errors.New("password hunter2-long rejected")))
	require.Equal(t, "dial: password *** rejected", plain.Error())
}

func TestDemoBackupWritesAPrivateFileAndReturnsItsChecksum(t *testing.T) {
	lab := t.TempDir()
	rel := activities.DemoRelease{Name: "agile", Version: "0.21", Values: map[string]string{"password": "pw-in-values"}}
	b, _ := json.Marshal(rel)
	require.NoError(t, os.MkdirAll(filepath.Join(lab, "releases"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(lab, "releases", "agile.json"), b, 0o600))

	art := &activities.Artifacts{Root: t.TempDir()}
	d := &activities.Demo{Artifacts: art, Secrets: config.NewSecretStore(nil)}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(d)
	val, err := env.ExecuteActivity(d.BackupValues, activities.DemoReleaseInput{LabDir: lab, Release: "agile"})
	require.NoError(t, err)
	var res activities.DemoResult
	require.NoError(t, val.Get(&res))
	st, err := os.Stat(res.Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	sum, err := activities.FileSHA256(res.Path)
	require.NoError(t, err)
	require.Equal(t, sum, res.SHA256)
	require.NotContains(t, res.Summary, "pw-in-values", "the result names the file, not its content")

	// Deleting twice is success both times: safe to retry.
	for i := 0; i < 2; i++ {
		_, err := env.ExecuteActivity(d.DeleteRelease, activities.DemoReleaseInput{LabDir: lab, Release: "agile"})
		require.NoError(t, err)
	}
	_, err = env.ExecuteActivity(d.Install, activities.DemoInstallInput{LabDir: lab, Release: "x", Version: "1", PasswordRef: "nope"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	require.Equal(t, contract.ErrSecretNotFound, app.Type())
}

func TestHTTPCallWithSecretsAndExpectations(t *testing.T) {
	var gotAuth, gotBody, gotToken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/migrate/v3/migrate/system/user_config/blueking_modify/true":
			u, p, _ := r.BasicAuth()
			gotAuth = u + ":" + p
			fmt.Fprint(w, `{"result":true,"bk_error_code":0,"data":{"status":"done"}}`)
		case "/platform/v1/system-variables":
			gotToken = r.Header.Get("Authorization")
			b := make([]byte, r.ContentLength)
			_, _ = r.Body.Read(b)
			gotBody = string(b)
			fmt.Fprint(w, `{"status":"OK","data":[{"name":"GATEWAY_URL"}]}`)
		case "/broken":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "upstream down")
		case "/denied":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"token hunter2-token-991 expired"}`)
		}
	}))
	defer srv.Close()
	store := config.NewSecretStore(map[string]config.Secret{"bk-admin": {Value: "bk-Admin-pw-13"}, "wecube-token": {Value: "Bearer hunter2-token-991"}})
	h := &activities.HTTP{Secrets: store}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)

	val, err := env.ExecuteActivity(h.Call, activities.HTTPCallInput{Method: "POST",
		URL: srv.URL + "/migrate/v3/migrate/system/user_config/blueking_modify/true", BasicUser: "admin", BasicPasswordRef: "bk-admin",
		ExpectJSON: map[string]string{"result": "true", "bk_error_code": "0", "data.status": "done"}})
	require.NoError(t, err)
	require.Equal(t, "admin:bk-Admin-pw-13", gotAuth)
	var res activities.HTTPCallResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, 200, res.Status)

	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{Method: "POST", URL: srv.URL + "/platform/v1/system-variables",
		SecretHeaders: map[string]string{"Authorization": "wecube-token"}, Body: `[{"name":"GATEWAY_URL","value":"http://gw"}]`,
		ExpectJSON: map[string]string{"status": "OK", "data.0.name": "GATEWAY_URL"}})
	require.NoError(t, err)
	require.Equal(t, "Bearer hunter2-token-991", gotToken)
	require.JSONEq(t, `[{"name":"GATEWAY_URL","value":"http://gw"}]`, gotBody)

	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{URL: srv.URL + "/platform/v1/system-variables", ExpectJSON: map[string]string{"status": "DONE"}})
	require.ErrorContains(t, err, `status is "OK", expected "DONE"`)

	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{URL: srv.URL + "/broken"})
	app := appErr(t, err)
	require.False(t, app.NonRetryable(), "a 5xx is worth retrying")

	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{URL: srv.URL + "/denied", SecretHeaders: map[string]string{"Authorization": "wecube-token"}})
	app = appErr(t, err)
	require.True(t, app.NonRetryable(), "a 4xx goes to the operator")
	require.Contains(t, app.Message(), "answered 403")
	require.NotContains(t, app.Message(), "hunter2-token-991", "the token echoed by the server is scrubbed")

	// A body names its secrets; the worker puts them in, JSON-escaped.
	store2 := config.NewSecretStore(map[string]config.Secret{"oauth": {Value: `s3"cret\x`}})
	h2 := &activities.HTTP{Secrets: store2}
	env2 := s.NewTestActivityEnvironment()
	env2.RegisterActivity(h2)
	_, err = env2.ExecuteActivity(h2.Call, activities.HTTPCallInput{Method: "POST", URL: srv.URL + "/platform/v1/system-variables",
		Body: `{"name":"choerodon","secret":{{ secret "oauth" | json }}}`, BodyTemplate: true})
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"choerodon","secret":"s3\"cret\\x"}`, gotBody)
	_, err = env2.ExecuteActivity(h2.Call, activities.HTTPCallInput{Method: "POST", URL: srv.URL + "/platform/v1/system-variables",
		Body: `{"secret":{{ secret "missing" | json }}}`, BodyTemplate: true})
	require.ErrorContains(t, err, "missing")

}
