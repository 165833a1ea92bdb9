// Package workflows holds one file per vendor upgrade guide. Each file reads
// like its guide: a pure Plan function that lists the steps, in the guide's
// order, for a given config, and a workflow function that runs that plan
// with the shared runbook. `starter plan` calls the same Plan, so what it
// prints is exactly what the workflow runs.
package workflows

import (
	"fmt"
	"reflect"
	"sort"

	"upgrader/workflows/runbook"

	"go.temporal.io/sdk/workflow"
)

// Input is what every guide's config decodes into: the runbook's Input
// (Validate, Plan, GetTarget).
type Input = runbook.Input

// Spec describes one guide to the worker and the starter.
type Spec struct {
	runbook.Guide
	// WorkflowType is the Temporal workflow type name.
	WorkflowType string
	// Workflow is the workflow function.
	Workflow any
	// NewInput returns a fresh input holding the guide's defaults, ready to
	// have a config file decoded over it.
	NewInput func() Input
	// Example is the path of an example config, relative to the repo.
	Example string
	// Seed is the file name of the vendor's guide under ../shared/seeds
	// ("000_5eb1c8e48cb12d5d.txt"); empty for a guide with no document
	// (demo). Where the folder is present, a test finds every heading of
	// the document in the guide's map (SeedHeadings).
	Seed string
}

// guides is every guide this build knows, in one explicit list: a new guide
// is added here (see "Adding a guide" in the README).
var guides = []Spec{
	demoSpec,
	choerodon021Spec,
	choerodon08Spec,
	blueKingSpec,
	wecube400Spec,
	skoalaSpec,
}

var registry = func() map[string]Spec {
	m := map[string]Spec{}
	for _, s := range guides {
		if _, dup := m[s.Name]; dup {
			panic("guide listed twice: " + s.Name)
		}
		m[s.Name] = s
	}
	return m
}()

// runGuide is every guide's workflow body: the runbook validates the
// input, runs its plan, takes a corrected config (decoded into a fresh value
// of the input's own type) with retry or approve, and continues as new when
// a long wait grows the history.
func runGuide(ctx workflow.Context, g runbook.Guide, in Input) (runbook.RunStatus, error) {
	return runbook.RunInput(ctx, g, in, runbook.Options{NewInput: func() runbook.Input {
		//workflowcheck:ignore
		return reflect.New(reflect.TypeOf(in).Elem()).Interface().(Input)
	}})
}

// Guides lists every guide, sorted by name.
func Guides() []Spec {
	out := make([]Spec, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a guide by name.
func Lookup(name string) (Spec, error) {
	s, ok := registry[name]
	if !ok {
		var names []string
		for _, g := range Guides() {
			names = append(names, g.Name)
		}
		return Spec{}, fmt.Errorf("unknown guide %q; known guides: %v (see `starter guides`)", name, names)
	}
	return s, nil
}
