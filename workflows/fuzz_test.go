package workflows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"upgrader/config"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// FuzzUpgradeConfig feeds mutated upgrade configs, seeded with every
// guide's example, through the same path `starter plan` takes. Nothing may
// panic, and a config the validation accepts must give a plan the runbook
// accepts whose every step input is small enough for Temporal's payloads.
// `make test` runs it briefly; `make fuzz` longer.
func FuzzUpgradeConfig(f *testing.F) {
	for _, g := range workflows.Guides() {
		b, err := os.ReadFile(filepath.Join("..", g.Example))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(g.Name, b)
	}
	f.Fuzz(func(t *testing.T, guide string, yaml []byte) {
		spec, err := workflows.Lookup(guide)
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, yaml, 0o600); err != nil {
			t.Fatal(err)
		}
		in := spec.NewInput()
		if err := config.LoadUpgrade(path, spec.Name, in); err != nil {
			return
		}
		if err := in.Validate(); err != nil {
			return
		}
		steps, err := in.Plan()
		if err != nil {
			// Plan-only problems (an override of a key the guide sets) are
			// refused there, by key; anything else is a validation gap.
			t.Logf("accepted by Validate, refused by Plan: %v", err)
			return
		}
		if err := runbook.ValidatePlan(steps); err != nil {
			t.Fatalf("accepted config gives an invalid plan: %v", err)
		}
		for _, s := range steps {
			b, err := json.Marshal(s.Input)
			if err != nil {
				t.Fatalf("step %s: input does not encode: %v", s.Name, err)
			}
			if len(b) > workflows.MaxInputBytes {
				t.Fatalf("step %s: input is %d bytes", s.Name, len(b))
			}
		}
	})
}
