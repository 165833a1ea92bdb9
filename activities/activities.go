// Package activities holds the steps' work: small, idempotent functions on
// structs that carry injected clients and settings. Workflows refer to them
// through nil pointers (var h *activities.HTTP); the worker registers real
// ones built from its config.
package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"upgrader/config"
	"upgrader/workflows/runbook"
)

// Secrets resolves secret names to values on the worker.
type Secrets interface {
	Resolve(name string) (string, error)
}

// resolveSecret resolves a name, turning "not configured" into a failure no
// retry can fix, which goes to the operator at once.
func resolveSecret(s Secrets, name string) (string, error) {
	v, err := s.Resolve(name)
	if err != nil {
		var nf *config.SecretNotFoundError
		if errors.As(err, &nf) {
			return "", temporal.NewNonRetryableApplicationError(err.Error(), runbook.ErrSecretNotFound, nil)
		}
		return "", fmt.Errorf("unable to resolve secret %q: %w", name, err)
	}
	return v, nil
}

// invalid is a failure of the step's input: retrying cannot help.
func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), runbook.ErrInvalidInput, nil)
}
