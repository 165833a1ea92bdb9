package activities_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"upgrader/activities"
	"upgrader/config"
)

// TestHTTPSecretsGoOnlyToTheirHosts: a call whose secrets are bound to the
// platform's hosts is refused, before anything is sent, when its URL points
// elsewhere; the worker's trustedHosts widen the binding; the preflight
// says the same before any step changes anything.
func TestHTTPSecretsGoOnlyToTheirHosts(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.Write([]byte(`{"failed":false}`))
	}))
	defer srv.Close()
	secrets := config.NewSecretStore(map[string]config.Secret{"tok": {Value: "Bearer s3cr3t-token"}})
	call := activities.HTTPCallInput{Method: "GET", URL: srv.URL + "/x", SecretHeaders: map[string]string{"Authorization": "tok"},
		SecretHosts: []string{"api.example.choerodon.io"}, SecretHostsKey: "api.url"}

	h := &activities.HTTP{Secrets: secrets}
	_, err := h.Call(context.Background(), call)
	require.Error(t, err)
	require.Contains(t, err.Error(), "api.url points at 127.0.0.1, which is not one of the platform's hosts")
	require.Contains(t, err.Error(), "trustedHosts")
	require.NotContains(t, err.Error(), "s3cr3t")
	require.Zero(t, got.Load(), "nothing was sent")

	_, err = h.PreflightSecretHosts(context.Background(), activities.SecretHostsInput{Key: "api.url", URL: call.URL, Hosts: call.SecretHosts})
	require.ErrorContains(t, err, "api.url points at 127.0.0.1")

	trusted := &activities.HTTP{Secrets: secrets, TrustedHosts: []string{"127.0.0.1"}}
	_, err = trusted.PreflightSecretHosts(context.Background(), activities.SecretHostsInput{Key: "api.url", URL: call.URL, Hosts: call.SecretHosts})
	require.NoError(t, err)
	_, err = trusted.Call(context.Background(), call)
	require.NoError(t, err)
	require.EqualValues(t, 1, got.Load())
}

// TestASecretBoundElsewhereIsNeverSent: a secret whose worker config binds
// it to mysql is refused as an HTTP header before anything is sent,
// non-retryably, naming the secret and the use; the preflight says so
// before any step; plain http:// to a host nobody trusted is refused too.
func TestASecretBoundElsewhereIsNeverSent(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.Write([]byte(`{"failed":false}`))
	}))
	defer srv.Close()
	store := config.NewSecretStoreFor(config.Worker{Secrets: map[string]config.Secret{
		"db-root": {Value: "root-pw-55123", Uses: []string{config.UseMySQL}},
		"tok":     {Value: "Bearer tok-77812", Uses: []string{config.UseHTTP}},
	}})
	h := &activities.HTTP{Secrets: store, TrustedHosts: []string{"127.0.0.1"}}
	call := activities.HTTPCallInput{Method: "GET", URL: srv.URL + "/x", SecretHeaders: map[string]string{"Authorization": "db-root"}}
	_, err := h.Call(context.Background(), call)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.True(t, app.NonRetryable())
	require.Equal(t, "SecretMisuse", app.Type())
	require.Contains(t, app.Message(), `secret "db-root" may be used for mysql only`)
	require.Contains(t, app.Message(), "not for http to http://127.0.0.1")
	require.Zero(t, got.Load(), "nothing was sent")

	_, err = h.PreflightSecretHosts(context.Background(), activities.SecretHostsInput{Key: "api.url", URL: call.URL,
		Hosts: []string{"127.0.0.1"}, Secrets: []string{"db-root"}})
	require.ErrorContains(t, err, `secret "db-root" may be used for mysql only`)

	call.SecretHeaders = map[string]string{"Authorization": "tok"}
	_, err = h.Call(context.Background(), call)
	require.NoError(t, err)
	require.EqualValues(t, 1, got.Load())

	// Plain http to a host that is not loopback and not trusted.
	err = store.CheckUse("tok", config.SecretUse{Kind: config.UseHTTP, Host: "api.example.com", Scheme: "http"})
	require.ErrorContains(t, err, `secret "tok" would be sent over plain http:// to api.example.com`)
	require.NoError(t, store.CheckUse("tok", config.SecretUse{Kind: config.UseHTTP, Host: "api.example.com", Scheme: "https"}))
}
