package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
)

func TestSecretBindingsAreCheckedByKey(t *testing.T) {
	p := write(t, `
secrets:
  a: {value: long-enough-1, uses: [mysql, smtp]}
  b: {value: long-enough-2, uses: [mysql], hosts: [api.example.com]}
  c: {value: long-enough-3, uses: [http], hosts: ["https://x/"]}
  d: {value: short}
`)
	_, err := config.LoadWorker(p)
	for _, want := range []string{
		`secrets.a.uses[1]: "smtp" is not one of mysql, mongo, ssh-key, ssh-env, helm-values, http, file, compose-env, demo`,
		"secrets.b.hosts: is set but uses: does not list http",
		`secrets.c.hosts[0]: "https://x/": give a bare host name or IP`,
		"secrets.d.value: is shorter than 6 characters",
	} {
		require.ErrorContains(t, err, want)
	}
}
