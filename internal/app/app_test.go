package app_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

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

// objects records the registered activity structs and workflow functions
// themselves, for reflection over their payload types.
type objects struct {
	worker.Registry
	activities []any
	workflows  []any
}

func (o *objects) RegisterWorkflowWithOptions(w any, _ workflow.RegisterOptions) {
	o.workflows = append(o.workflows, w)
}

func (o *objects) RegisterActivity(a any) { o.activities = append(o.activities, a) }

// A time.Duration in a payload shows in the Web UI and in `starter status`
// as a number of nanoseconds (90000000000); contract.Duration shows "1m30s"
// and reads either form. This walks the arguments and results of every
// activity and workflow the worker registers, so a new input with a
// time.Duration field fails here rather than in an operator's UI.
func TestNoPayloadCarriesARawTimeDuration(t *testing.T) {
	cfg := config.Defaults()
	cfg.Demo = true
	var o objects
	app.Register(&o, cfg, config.NewSecretStore(nil))
	require.NotEmpty(t, o.activities)
	// The walk itself finds one, however deep.
	type inner struct{ Wait time.Duration }
	require.Equal(t, []string{"x.Items[][value].Wait"},
		rawDurations("x", reflect.TypeOf(struct{ Items []map[string]*inner }{}), map[reflect.Type]bool{}))
	ctxType := reflect.TypeOf((*context.Context)(nil)).Elem()
	wctxType := reflect.TypeOf((*workflow.Context)(nil)).Elem()
	var bad []string
	check := func(where string, ft reflect.Type) {
		for i := 0; i < ft.NumIn(); i++ {
			if in := ft.In(i); in != ctxType && in != wctxType {
				bad = append(bad, rawDurations(where+" argument "+strconv.Itoa(i), in, map[reflect.Type]bool{})...)
			}
		}
		for i := 0; i < ft.NumOut(); i++ {
			bad = append(bad, rawDurations(where+" result "+strconv.Itoa(i), ft.Out(i), map[reflect.Type]bool{})...)
		}
	}
	for _, a := range o.activities {
		v := reflect.ValueOf(a)
		for i := 0; i < v.NumMethod(); i++ {
			check(fmt.Sprintf("%T.%s", a, v.Type().Method(i).Name), v.Method(i).Type())
		}
	}
	for _, w := range o.workflows {
		check(fmt.Sprintf("workflow %T", w), reflect.TypeOf(w))
	}
	require.Empty(t, bad, "use contract.Duration (shown as \"1m30s\") instead of time.Duration in payload types")
}

// rawDurations lists the paths under t that are a time.Duration.
func rawDurations(path string, t reflect.Type, seen map[reflect.Type]bool) []string {
	if t == reflect.TypeOf(time.Duration(0)) {
		return []string{path}
	}
	if seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer:
		return rawDurations(path, t.Elem(), seen)
	case reflect.Slice, reflect.Array:
		return rawDurations(path+"[]", t.Elem(), seen)
	case reflect.Map:
		return append(rawDurations(path+"[key]", t.Key(), seen), rawDurations(path+"[value]", t.Elem(), seen)...)
	case reflect.Struct:
		var out []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			out = append(out, rawDurations(path+"."+f.Name, f.Type, seen)...)
		}
		return out
	}
	return nil
}
