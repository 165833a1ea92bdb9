package activities_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
)

// headerRecorder is a server that records the headers of every request it
// gets, and answers 401 without a token, as an API behind another host
// would.
type headerRecorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []http.Header
	body []string
}

func newHeaderRecorder(t *testing.T) *headerRecorder {
	r := &headerRecorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Clone())
		r.body = append(r.body, string(b))
		r.mu.Unlock()
		if req.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"failed":true,"code":"error.permission.accessTokenNull","message":"no token"}`)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *headerRecorder) requests() ([]http.Header, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header{}, r.seen...), append([]string{}, r.body...)
}

// redirector answers every request on /moved with a redirect to target
// (status code), and records the Authorization of requests it gets on
// other paths (a same-host redirect's target).
func redirector(t *testing.T, code int, target func() string, sameHostAuth *atomic.Value) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if r.URL.Path == "/moved" {
			w.Header().Set("Location", target())
			w.WriteHeader(code)
			return
		}
		sameHostAuth.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Api-Key"))
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func redirectSecrets() *config.SecretStore {
	return config.NewSecretStore(map[string]config.Secret{
		"gw-token": {Value: "Bearer gw-token-Zq81x"},
		"gw-key":   {Value: "key-7f3c2a9d"},
		"oauth":    {Value: "oauth-Secret-5521"},
	})
}

func TestHTTPSecretHeadersDoNotCrossARedirectToAnotherHost(t *testing.T) {
	other := newHeaderRecorder(t)
	var sameHost atomic.Value
	var target atomic.Value
	a := redirector(t, http.StatusFound, func() string { return target.Load().(string) }, &sameHost)
	h := &activities.HTTP{Secrets: redirectSecrets()}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	call := activities.HTTPCallInput{Method: "GET", URL: a.URL + "/moved",
		Headers:       map[string]string{"X-Trace": "t-1"},
		SecretHeaders: map[string]string{"Authorization": "gw-token", "X-Api-Key": "gw-key"}}

	// Same IP, another port: another origin (net/http itself would keep
	// Authorization here, since it compares host names only).
	target.Store(other.srv.URL + "/api")
	_, err := env.ExecuteActivity(h.Call, call)
	app := httpAppErr(t, err)
	require.Contains(t, app.Message(), "answered 401 (redirected to "+other.srv.URL+"/api, another host, which was not sent the secret header Authorization, X-Api-Key")
	seen, _ := other.requests()
	require.Len(t, seen, 1)
	require.Empty(t, seen[0].Get("Authorization"))
	require.Empty(t, seen[0].Get("X-Api-Key"))
	require.Equal(t, "t-1", seen[0].Get("X-Trace"), "headers without secrets follow")

	// Another host name for the same server.
	target.Store(strings.Replace(other.srv.URL, "127.0.0.1", "localhost", 1) + "/api")
	_, err = env.ExecuteActivity(h.Call, call)
	require.Error(t, err)
	seen, _ = other.requests()
	require.Len(t, seen, 2)
	require.Empty(t, seen[1].Get("Authorization"))
	require.Empty(t, seen[1].Get("X-Api-Key"))

	// Basic authentication is a secret header too.
	target.Store(other.srv.URL + "/api")
	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{URL: a.URL + "/moved", BasicUser: "admin", BasicPasswordRef: "gw-key"})
	require.Error(t, err)
	seen, _ = other.requests()
	require.Len(t, seen, 3)
	require.Empty(t, seen[2].Get("Authorization"))

	// The same host keeps them.
	target.Store("/api")
	val, err := env.ExecuteActivity(h.Call, call)
	require.NoError(t, err)
	var res activities.HTTPCallResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, 200, res.Status)
	require.Equal(t, "Bearer gw-token-Zq81x|key-7f3c2a9d", sameHost.Load())
}

func TestHTTPSecretBodyRefusesARedirectToAnotherHost(t *testing.T) {
	other := newHeaderRecorder(t)
	var sameHost atomic.Value
	a := redirector(t, http.StatusTemporaryRedirect, func() string { return other.srv.URL + "/api" }, &sameHost)
	h := &activities.HTTP{Secrets: redirectSecrets()}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)

	// A 307 keeps method and body: a body rendered from secrets stays home.
	_, err := env.ExecuteActivity(h.Call, activities.HTTPCallInput{Method: "POST", URL: a.URL + "/moved",
		Body: `{"name":"choerodon","secret":{{ secret "oauth" | json }}}`, BodyTemplate: true, Repeatable: activities.Repeat(true)})
	app := httpAppErr(t, err)
	require.True(t, app.NonRetryable())
	require.Equal(t, contract.ErrInvalidInput, app.Type())
	require.Contains(t, app.Message(), "refused to follow the redirect to "+other.srv.URL+"/api: another host, and the body holds a secret")
	seen, _ := other.requests()
	require.Empty(t, seen, "the other host got nothing")

	// A body without secrets follows.
	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{Method: "POST", URL: a.URL + "/moved", Body: `{"name":"choerodon"}`,
		Repeatable: activities.Repeat(true)})
	require.Error(t, err) // the other host wants a token
	_, bodies := other.requests()
	require.Equal(t, []string{`{"name":"choerodon"}`}, bodies)
}

func TestHTTPURLWithAUserPartIsRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	h := &activities.HTTP{Secrets: redirectSecrets()}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	host := strings.TrimPrefix(srv.URL, "http://")

	_, err := env.ExecuteActivity(h.Call, activities.HTTPCallInput{URL: "http://gateway.example@" + host + "/devops/v1/upgrade",
		SecretHeaders: map[string]string{"Authorization": "gw-token"}})
	app := httpAppErr(t, err)
	require.True(t, app.NonRetryable())
	require.Equal(t, contract.ErrInvalidInput, app.Type())
	require.Contains(t, app.Message(), `has a user part "gateway.example@" before @, so the request would go to host 127.0.0.1`)

	// A password in the user part never reaches the error.
	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{URL: "http://admin:pw-Secret-99@" + host + "/x"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "pw-Secret-99")
	require.Contains(t, err.Error(), `"admin@"`)

	// A check URL and a wait are held to the same rule.
	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{Method: "POST", URL: srv.URL + "/clients",
		Check: &activities.HTTPCheck{URL: "http://gateway.example@" + host + "/clients", Done: map[string]string{"content.*.name": "x"}}})
	require.Contains(t, httpAppErr(t, err).Message(), "has a user part")
	_, err = env.ExecuteActivity(h.WaitUntil, activities.WaitHTTPInput{URL: "http://gateway.example@" + host + "/health"})
	require.Contains(t, httpAppErr(t, err).Message(), "has a user part")
	require.Zero(t, hits.Load(), "nothing was sent")
}

func TestHTTPVendorFailureInsideA200IsAFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/iam/v1/organizations/1/clients":
			fmt.Fprint(w, `{"failed":true,"code":"error.clientName.exist","message":"客户端名称已存在: `+strings.Repeat("很长", 200)+`"}`)
		case "/devops/v1/upgrade":
			fmt.Fprint(w, `{"failed":false}`)
		default:
			fmt.Fprint(w, `[{"failed":true}]`) // a list is no envelope
		}
	}))
	defer srv.Close()
	h := &activities.HTTP{Secrets: redirectSecrets()}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)

	_, err := env.ExecuteActivity(h.Call, activities.HTTPCallInput{Method: "POST", URL: srv.URL + "/iam/v1/organizations/1/clients", Body: `{"name":"choerodon"}`})
	app := httpAppErr(t, err)
	require.True(t, app.NonRetryable())
	require.Equal(t, activities.ErrHTTPStatus, app.Type())
	require.Contains(t, app.Message(), "answered 200 but the service reports a failure: code error.clientName.exist: 客户端名称已存在")
	require.True(t, strings.HasSuffix(app.Message(), "…"), "a long message is cut")
	require.NotContains(t, app.Message(), "\uFFFD", "cut at a whole character")

	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{URL: srv.URL + "/devops/v1/upgrade?version=0.21.0", Repeatable: activities.Repeat(false)})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(h.Call, activities.HTTPCallInput{URL: srv.URL + "/list"})
	require.NoError(t, err)
}
