package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
)

const labToken = "Bearer lab-admin-token-77Q"

// iamLab answers like Choerodon's iam-service for OAuth clients: POST
// creates one (a duplicate name answers HTTP 200 {"failed": true, …}, as
// the service does), GET lists them by name in a page ({"content": […]}).
// dropAnswers makes the next POSTs lose their answer after the client is
// created: the server closes the connection without a word.
type iamLab struct {
	srv         *httptest.Server
	mu          sync.Mutex
	clients     []string
	posts       atomic.Int32
	gets        atomic.Int32
	dropAnswers atomic.Int32
}

func newIAMLab(t *testing.T) *iamLab {
	l := &iamLab{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != labToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/iam/v1/organizations/1/clients" {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			l.gets.Add(1)
			name := r.URL.Query().Get("name")
			l.mu.Lock()
			content := []map[string]any{}
			for i, c := range l.clients {
				if strings.Contains(c, name) {
					content = append(content, map[string]any{"id": i + 1, "name": c, "organizationId": 1})
				}
			}
			l.mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"totalElements": len(content), "content": content})
		case http.MethodPost:
			l.posts.Add(1)
			var c struct {
				Name string `json:"name"`
			}
			_ = json.NewDecoder(r.Body).Decode(&c)
			l.mu.Lock()
			dup := false
			for _, have := range l.clients {
				dup = dup || have == c.Name
			}
			if !dup {
				l.clients = append(l.clients, c.Name)
			}
			l.mu.Unlock()
			if l.dropAnswers.Load() > 0 {
				l.dropAnswers.Add(-1)
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.Close()
				}
				return
			}
			if dup {
				fmt.Fprint(w, `{"failed":true,"code":"error.clientName.exist","message":"客户端名称已存在"}`)
				return
			}
			fmt.Fprintf(w, `{"id":%d,"name":%q,"organizationId":1}`, len(l.clients), c.Name)
		}
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *iamLab) createClient() activities.HTTPCallInput {
	return activities.HTTPCallInput{Method: "POST", URL: l.srv.URL + "/iam/v1/organizations/1/clients",
		SecretHeaders: map[string]string{"Authorization": "c7n-admin-token"},
		Body:          `{"name":"choerodon","organizationId":1,"secret":{{ secret "c7n-oauth" | json }}}`, BodyTemplate: true,
		CheckByHand: "whether organization 1 has an OAuth client named choerodon (平台管理 → 客户端)"}
}

func labSecrets() *config.SecretStore {
	return config.NewSecretStore(map[string]config.Secret{
		"c7n-admin-token": {Value: labToken},
		"c7n-oauth":       {Value: "oauth-Secret-5521"},
	})
}

// stepInput is what the test workflow runs: one call as the runbook does,
// with the runbook's activity ID (step#try) and automatic retries.
type stepInput struct {
	Step      string
	Call      activities.HTTPCallInput
	Heartbeat time.Duration // zero: 5 s
}

func httpStepWorkflow(ctx workflow.Context, in stepInput) (activities.HTTPCallResult, error) {
	hb := in.Heartbeat
	if hb == 0 {
		hb = 5 * time.Second
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ActivityID:          in.Step + "#1",
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    hb,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
	var res activities.HTTPCallResult
	err := workflow.ExecuteActivity(ctx, "Call", in.Call).Get(ctx, &res)
	return res, err
}

// runStep runs one HTTP step with Temporal's retries (the test server's
// retry loop carries heartbeat details from attempt to attempt, as the
// real one does).
func runStep(t *testing.T, h *activities.HTTP, step string, call activities.HTTPCallInput) (activities.HTTPCallResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(h)
	env.RegisterWorkflow(httpStepWorkflow)
	env.ExecuteWorkflow(httpStepWorkflow, stepInput{Step: step, Call: call})
	require.True(t, env.IsWorkflowCompleted())
	var res activities.HTTPCallResult
	if err := env.GetWorkflowError(); err != nil {
		return res, err
	}
	require.NoError(t, env.GetWorkflowResult(&res))
	return res, nil
}

func httpAppErr(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "not an application error: %v", err)
	return app
}

func TestHTTPPostWhoseAnswerIsLostIsNotSentTwice(t *testing.T) {
	l := newIAMLab(t)
	l.dropAnswers.Store(5)
	h := &activities.HTTP{Secrets: labSecrets()}

	_, err := runStep(t, h, "create-oauth-client/choerodon", l.createClient())
	require.Error(t, err)
	require.Equal(t, int32(1), l.posts.Load(), "a POST whose answer was lost is not sent again")
	app := httpAppErr(t, err)
	require.Equal(t, contract.ErrNotRepeatable, app.Type())
	require.True(t, app.NonRetryable())
	msg := app.Message()
	require.Contains(t, msg, "create-oauth-client/choerodon: POST "+l.srv.URL+"/iam/v1/organizations/1/clients")
	require.Regexp(t, `the call may have been made at \d\d:\d\d:\d\d UTC by try 1, attempt 1 \(no answer: `, msg)
	require.Contains(t, msg, "check whether organization 1 has an OAuth client named choerodon")
	require.Contains(t, msg, "then retry (sends it again) or skip")
	require.NotContains(t, msg, "lab-admin-token")
	require.NotContains(t, msg, "oauth-Secret-5521")
}

func TestHTTPPostWithACheckSucceedsOnTheNextAttemptHavingSentOnce(t *testing.T) {
	l := newIAMLab(t)
	l.dropAnswers.Store(1)
	h := &activities.HTTP{Secrets: labSecrets()}
	call := l.createClient()
	call.Check = &activities.HTTPCheck{URL: "/iam/v1/organizations/1/clients?name=choerodon",
		Done: map[string]string{"content.*.name": "choerodon"}}

	res, err := runStep(t, h, "create-oauth-client/choerodon", call)
	require.NoError(t, err)
	require.Equal(t, int32(1), l.posts.Load(), "sent once")
	require.Equal(t, int32(2), l.gets.Load(), "the check ran before the POST, and again before the second attempt would send")
	require.True(t, res.AlreadyDone)
	require.Contains(t, res.Summary, "not sent: the check GET "+l.srv.URL+"/iam/v1/organizations/1/clients?name=choerodon shows it done already")
	l.mu.Lock()
	require.Equal(t, []string{"choerodon"}, l.clients)
	l.mu.Unlock()

	// Created by a person before the step ran: nothing is sent at all.
	l2 := newIAMLab(t)
	l2.clients = []string{"choerodon-old", "choerodon"}
	call.URL = l2.srv.URL + "/iam/v1/organizations/1/clients"
	res, err = runStep(t, h, "create-oauth-client/choerodon", call)
	require.NoError(t, err)
	require.True(t, res.AlreadyDone)
	require.Zero(t, l2.posts.Load())

	// Not there: the POST is sent, once, and its answer judged.
	l3 := newIAMLab(t)
	l3.clients = []string{"choerodon-old"}
	call.URL = l3.srv.URL + "/iam/v1/organizations/1/clients"
	res, err = runStep(t, h, "create-oauth-client/choerodon", call)
	require.NoError(t, err)
	require.False(t, res.AlreadyDone)
	require.Equal(t, 200, res.Status)
	require.Equal(t, int32(1), l3.posts.Load())
}

func TestHTTPCheckThatCannotTellSendsNothing(t *testing.T) {
	l := newIAMLab(t)
	h := &activities.HTTP{Secrets: labSecrets()}
	call := l.createClient()
	// The 0.18 iam-service answers a page as {"list": […]}: a check written
	// for {"content": […]} must not read the missing list as "not there".
	call.Check = &activities.HTTPCheck{URL: "/iam/v1/organizations/1/clients?name=choerodon",
		Done: map[string]string{"list.*.name": "choerodon"}}
	_, err := runStep(t, h, "create-oauth-client/choerodon", call)
	app := httpAppErr(t, err)
	require.True(t, app.NonRetryable())
	require.Contains(t, app.Message(), "cannot tell whether POST "+l.srv.URL+"/iam/v1/organizations/1/clients has taken effect: the answer has no list.*.name")
	require.Zero(t, l.posts.Load())

	// A check on another host would hand it the call's token.
	call.Check = &activities.HTTPCheck{URL: "http://other.example/iam/v1/organizations/1/clients", Done: map[string]string{"content.*.name": "choerodon"}}
	_, err = runStep(t, h, "create-oauth-client/choerodon", call)
	require.Equal(t, contract.ErrInvalidInput, httpAppErr(t, err).Type())
	require.Zero(t, l.posts.Load())
}

// repairLab is devops-service's data repair: a GET that runs the repair
// each time it is called and, here, loses its answer.
func repairLab(t *testing.T, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/devops/v1/upgrade":
			calls.Add(1)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		default:
			fmt.Fprint(w, `{"status":"UP"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPGetMarkedNotRepeatableIsNotSentTwice(t *testing.T) {
	var calls atomic.Int32
	srv := repairLab(t, &calls)
	// One client whose keep-alive connection to the service is already
	// open: net/http resends a GET on its own when such a connection drops.
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	resp, err := client.Get(srv.URL + "/actuator/health")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	h := &activities.HTTP{Client: client, Secrets: labSecrets()}

	call := activities.HTTPCallInput{Method: "GET", URL: srv.URL + "/devops/v1/upgrade?version=0.21.0",
		SecretHeaders: map[string]string{"Authorization": "c7n-admin-token"}, Repeatable: activities.Repeat(false)}
	_, err = runStep(t, h, "devops-data-fix/retry", call)
	app := httpAppErr(t, err)
	require.Equal(t, contract.ErrNotRepeatable, app.Type())
	require.Contains(t, app.Message(), "devops-data-fix/retry: GET "+srv.URL+"/devops/v1/upgrade?version=0.21.0: the call may have been made at ")
	require.Contains(t, app.Message(), "check on the service whether it took effect")
	require.Equal(t, int32(1), calls.Load())

	// The same GET left to its method's nature is retried: that is what
	// Repeatable: false prevents.
	calls.Store(0)
	call.Repeatable = nil
	_, err = runStep(t, h, "devops-data-fix/retry", call)
	require.Error(t, err)
	require.Greater(t, calls.Load(), int32(1))
}

func TestHTTPNotRepeatableCallFindsTheRecordOfALostWorker(t *testing.T) {
	// Try 1 sends and its worker is lost while the service works: the
	// request is in the server, the try ends with its context.
	var posts atomic.Int32
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_, _ = io.ReadAll(r.Body) // the server notices a closed connection once the body is read
			posts.Add(1)
			arrived <- struct{}{}
			<-r.Context().Done()
			return
		}
		fmt.Fprint(w, `{"content":[{"name":"choerodon"}]}`)
	}))
	defer srv.Close()
	h := &activities.HTTP{Secrets: labSecrets()}
	call := activities.HTTPCallInput{Method: "POST", URL: srv.URL + "/iam/v1/organizations/1/clients",
		SecretHeaders: map[string]string{"Authorization": "c7n-admin-token"}, Body: `{"name":"choerodon"}`}

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	ctx, cancel := context.WithCancel(context.Background())
	env.SetWorkerOptions(testsuiteWorkerOptions(ctx))
	env.RegisterActivity(h)
	var mu sync.Mutex
	var beats []map[string]any
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var rec map[string]any
		if details.HasValues() && details.Get(&rec) == nil {
			mu.Lock()
			beats = append(beats, rec)
			mu.Unlock()
		}
	})
	go func() {
		<-arrived
		cancel()
	}()
	_, err := env.ExecuteActivity(h.Call, call)
	require.Error(t, err)
	require.Equal(t, int32(1), posts.Load())
	mu.Lock()
	require.NotEmpty(t, beats)
	first := beats[0]
	mu.Unlock()
	require.Equal(t, true, first["sending"], "the record is written before the request leaves")
	require.Equal(t, "POST "+srv.URL+"/iam/v1/organizations/1/clients", first["call"])

	// Attempt 2 on another worker finds the record: without a check it
	// sends nothing and goes to a person.
	env2 := s.NewTestActivityEnvironment()
	env2.RegisterActivity(h)
	env2.SetHeartbeatDetails(first)
	_, err = env2.ExecuteActivity(h.Call, call)
	app := httpAppErr(t, err)
	require.Equal(t, contract.ErrNotRepeatable, app.Type())
	require.True(t, app.NonRetryable())
	require.Regexp(t, `POST .*/iam/v1/organizations/1/clients: the call may have been made at \d\d:\d\d:\d\d UTC by attempt 1 \(its answer or its worker was lost\)`, app.Message())
	require.Equal(t, int32(1), posts.Load())

	// With a check, attempt 2 asks the service and finds the client there.
	call.Check = &activities.HTTPCheck{URL: "/iam/v1/organizations/1/clients?name=choerodon", Done: map[string]string{"content.*.name": "choerodon"}}
	env3 := s.NewTestActivityEnvironment()
	env3.RegisterActivity(h)
	env3.SetHeartbeatDetails(first)
	val, err := env3.ExecuteActivity(h.Call, call)
	require.NoError(t, err)
	var res activities.HTTPCallResult
	require.NoError(t, val.Get(&res))
	require.True(t, res.AlreadyDone)
	require.Equal(t, int32(1), posts.Load())

	// A check whose answer cannot tell says that the call may have been made.
	call.Check = &activities.HTTPCheck{URL: "/iam/v1/organizations/1/clients?name=choerodon", Done: map[string]string{"list.*.name": "choerodon"}}
	env4 := s.NewTestActivityEnvironment()
	env4.RegisterActivity(h)
	env4.SetHeartbeatDetails(first)
	_, err = env4.ExecuteActivity(h.Call, call)
	app = httpAppErr(t, err)
	require.Equal(t, contract.ErrNotRepeatable, app.Type())
	require.Regexp(t, `the answer has no list\.\*\.name: .*; this attempt sent nothing, but the call may have been made at \d\d:\d\d:\d\d UTC by attempt 1`, app.Message())
	require.Equal(t, int32(1), posts.Load())

	// A new try the runbook started after a lost worker has no heartbeat
	// details of its own; it carries the lost try's record in a header and
	// finds it just the same: without a check it sends nothing.
	call.Check = nil
	raw, err := json.Marshal(first)
	require.NoError(t, err)
	pl, err := converter.GetDefaultDataConverter().ToPayload(raw)
	require.NoError(t, err)
	env5 := s.NewTestActivityEnvironment()
	env5.RegisterActivity(h)
	env5.SetContextPropagators([]workflow.ContextPropagator{contract.CarryPropagator(nil)})
	env5.SetHeader(&commonpb.Header{Fields: map[string]*commonpb.Payload{contract.CarryHeader: pl}})
	_, err = env5.ExecuteActivity(h.Call, call)
	app = httpAppErr(t, err)
	require.Equal(t, contract.ErrNotRepeatable, app.Type())
	require.Regexp(t, `the call may have been made at \d\d:\d\d:\d\d UTC by attempt 1`, app.Message())
	require.Equal(t, int32(1), posts.Load())
}

func TestHTTPNotRepeatableCallIsRetriedWhenNothingWasSent(t *testing.T) {
	// A closed port: no connection, nothing left the worker, so Temporal's
	// retry is safe and the error says so.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	h := &activities.HTTP{Secrets: labSecrets()}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	_, err := env.ExecuteActivity(h.Call, activities.HTTPCallInput{Method: "POST", URL: url + "/iam/v1/organizations/1/clients", Body: `{}`})
	app := httpAppErr(t, err)
	require.False(t, app.NonRetryable())
	require.Contains(t, app.Message(), "not sent, no connection")

	// A POST the step declares safe to repeat is retried on a 5xx.
	var posts atomic.Int32
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv2.Close()
	_, err = runStep(t, h, "register/plugin", activities.HTTPCallInput{Method: "POST", URL: srv2.URL + "/register", Repeatable: activities.Repeat(true)})
	require.Error(t, err)
	require.Equal(t, int32(5), posts.Load(), "retried to the policy's 5 attempts")

	// The same POST left to its method: a 5xx may mean it was made.
	posts.Store(0)
	_, err = runStep(t, h, "register/plugin", activities.HTTPCallInput{Method: "POST", URL: srv2.URL + "/register"})
	require.Equal(t, contract.ErrNotRepeatable, httpAppErr(t, err).Type())
	require.Contains(t, err.Error(), "answered 502")
	require.Equal(t, int32(1), posts.Load())
}
