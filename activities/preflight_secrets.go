package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"upgrader/config"
	"upgrader/internal/contract"
)

// SecretsCheckInput lists a config's secret references: config key → secret name.
type SecretsCheckInput struct {
	Refs map[string]string `json:"refs"`
}

// Resolves names on the worker: no heartbeat.
// A check is quick, but a worker lost in it (or right before it, the task
// already handed to it) would cost the whole 2-minute try without a
// heartbeat: 15 s, from the shared ticker.
var _ = contract.Declare((*Preflight).CheckSecrets, contract.Options{Heartbeat: 15 * time.Second})

// CheckSecrets resolves every secret the run will use, on the worker, and
// reports which resolve (never a value, nor its length).
func (p *Preflight) CheckSecrets(ctx context.Context, in SecretsCheckInput) (contract.Outcome, error) {
	var out contract.Outcome
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		out, err = p.checkSecrets(ctx, in)
		return err
	})
	return out, err
}

func (p *Preflight) checkSecrets(ctx context.Context, in SecretsCheckInput) (contract.Outcome, error) {
	var checks []contract.Check
	for _, key := range slices.Sorted(maps.Keys(in.Refs)) {
		name := in.Refs[key]
		v, err := p.Secrets.Resolve(name)
		var nf *config.SecretNotFoundError
		switch {
		case errors.As(err, &nf):
			checks = append(checks, fail("secret", key, fmt.Sprintf("%q is not configured on the worker", name),
				fmt.Sprintf("add %s to secrets: in the worker config (env:, file: or value:) and restart the worker", name)))
		case err != nil:
			checks = append(checks, fail("secret", key, p.scrub(fmt.Sprintf("%q does not resolve: %v", name, err)),
				"check the variable or file the worker config names for it"))
		case v == "":
			checks = append(checks, fail("secret", key, fmt.Sprintf("%q resolves to an empty value", name),
				"set the variable or file the worker config names for it"))
		default:
			checks = append(checks, pass("secret", key, fmt.Sprintf("%q resolves on the worker", name)))
		}
	}
	return outcome("secrets", checks)
}
