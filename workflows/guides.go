// Package workflows holds one file per vendor upgrade guide. Each file reads
// like its guide: a pure Plan function that lists the steps, in the guide's
// order, for a given config, and a workflow function that runs that plan
// with the shared runbook. `starter plan` calls the same Plan, so what it
// prints is exactly what the workflow runs.
package workflows

import (
	"fmt"
	"sort"

	"upgrader/workflows/runbook"
)

// Input is what every guide's config decodes into.
type Input interface {
	// Validate reports every problem of the config at once, by field.
	Validate() error
	// Plan lists the steps the workflow will run for this config.
	Plan() ([]runbook.Step, error)
	// GetTarget says which environment and versions the upgrade is about.
	GetTarget() *runbook.Target
}

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
}

var registry = map[string]Spec{}

func register(s Spec) {
	if _, dup := registry[s.Name]; dup {
		panic("guide registered twice: " + s.Name)
	}
	registry[s.Name] = s
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
