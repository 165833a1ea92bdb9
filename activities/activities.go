// Package activities holds the steps' work: small, idempotent functions on
// structs that carry injected clients and settings. Workflows refer to them
// through nil pointers (var h *activities.HTTP); the worker registers real
// ones built from its config.
package activities

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"text/template"

	"go.temporal.io/sdk/temporal"

	"upgrader/config"
	"upgrader/internal/contract"
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
			return "", temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrSecretNotFound, nil)
		}
		return "", fmt.Errorf("unable to resolve secret %q: %w", name, err)
	}
	return v, nil
}

// resolveSecretFor resolves a name for a use: a secret bound elsewhere
// (its uses: or hosts: in the worker config) fails non-retryably, naming
// the secret and the use, before the step sends or changes anything. A
// resolver that knows no bindings (tests) resolves as before.
func resolveSecretFor(s Secrets, name string, use config.SecretUse) (string, error) {
	b, ok := s.(interface {
		ResolveFor(string, config.SecretUse) (string, error)
	})
	if !ok {
		return resolveSecret(s, name)
	}
	v, err := b.ResolveFor(name, use)
	var mis *config.SecretMisuseError
	if errors.As(err, &mis) {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrSecretMisuse, nil)
	}
	if err != nil {
		return resolveSecret(s, name) // the same error, typed
	}
	return v, nil
}

// httpUse is the use of a secret sent to raw (a URL already checked).
func httpUse(raw string) config.SecretUse {
	u, err := url.Parse(raw)
	if err != nil {
		return config.SecretUse{Kind: config.UseHTTP}
	}
	return config.SecretUse{Kind: config.UseHTTP, Host: u.Hostname(), Scheme: u.Scheme}
}

// checkSecretUse checks a binding without resolving (a preflight).
func checkSecretUse(s Secrets, name string, use config.SecretUse) error {
	b, ok := s.(interface {
		CheckUse(string, config.SecretUse) error
	})
	if !ok {
		return nil
	}
	if err := b.CheckUse(name, use); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrSecretMisuse, nil)
	}
	return nil
}

// invalid is a failure of the step's input: retrying cannot help.
func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), contract.ErrInvalidInput, nil)
}

// renderWithSecrets renders a Go text/template on the worker with vars and
// two functions: `secret "name"` (the secret's value) and `json` (a value as
// a JSON string, quotes included). Step inputs thus carry the template and
// secret names, never the values: uploaded files, HTTP request bodies.
func renderWithSecrets(what, text string, vars any, secrets Secrets, use config.SecretUse) ([]byte, error) {
	tpl, err := template.New(what).Option("missingkey=error").Funcs(template.FuncMap{
		"secret": func(name string) (string, error) { return resolveSecretFor(secrets, name, use) },
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).Parse(text)
	if err != nil {
		return nil, invalid("template for %s does not parse: %v", what, err)
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, vars); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return nil, app
		}
		return nil, invalid("template for %s: %v", what, err)
	}
	return b.Bytes(), nil
}
