package app_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

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
	cfg.Demo = true
	secrets := config.NewSecretStore(nil)
	w := worker.New(c, "register-test", app.WorkerOptions(secrets))
	require.NotPanics(t, func() { app.Register(w, cfg, secrets) })
}

// recorder records what is registered.
type recorder struct {
	worker.Registry
	workflows []string
	structs   []string
}

func (r *recorder) RegisterWorkflowWithOptions(_ any, o workflow.RegisterOptions) {
	r.workflows = append(r.workflows, o.Name)
}

func (r *recorder) RegisterActivity(a any) {
	r.structs = append(r.structs, fmt.Sprintf("%T", a))
}

// The demo guide's workflow and activities (which write under any folder a
// run names) are on a worker only with demo: true.
func TestDemoActivitiesAreRegisteredOnlyInDemoMode(t *testing.T) {
	cfg := config.Defaults()
	var prod recorder
	app.Register(&prod, cfg, config.NewSecretStore(nil))
	require.NotContains(t, prod.structs, "*activities.Demo")
	require.NotContains(t, prod.workflows, "DemoUpgrade")
	require.Contains(t, prod.workflows, "ChoerodonUpgrade_0_21_to_0_22")

	cfg.Demo = true
	var demo recorder
	app.Register(&demo, cfg, config.NewSecretStore(nil))
	require.Contains(t, demo.structs, "*activities.Demo")
	require.Contains(t, demo.workflows, "DemoUpgrade")
}
