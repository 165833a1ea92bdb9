package activities_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

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
