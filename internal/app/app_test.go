package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"upgrader/config"
	"upgrader/internal/app"
)

// Temporal names struct activities by method name alone, so two structs
// with a method of the same name panic at registration: the worker would
// not start. This registers everything the worker registers.
func TestEveryActivityAndWorkflowRegistersUnderAUniqueName(t *testing.T) {
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	defer c.Close()
	cfg := config.Defaults()
	secrets := config.NewSecretStore(nil)
	w := worker.New(c, "register-test", app.WorkerOptions(secrets))
	require.NotPanics(t, func() { app.Register(w, cfg, secrets) })
}
