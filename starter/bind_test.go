package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The exfiltration configs of the security issue are refused by `starter
// plan` given the worker's config, before anything starts: the database
// root password as the API's bearer token, the admin token sent to another
// host or over plain http://, a secret spliced into a templated value.
func TestPlanRefusesConfigsThatSendASecretWhereItIsNotBound(t *testing.T) {
	dir := t.TempDir()
	wc := filepath.Join(dir, "worker.yaml")
	require.NoError(t, os.WriteFile(wc, []byte(`
secrets:
  c7n-db-choerodon: {value: lab-pw-choerodon, uses: [helm-values, mysql]}
  c7n-db-root: {value: lab-pw-root-123, uses: [mysql]}
  c7n-minio-access-key: {value: lab-minio-ak, uses: [helm-values]}
  c7n-minio-secret-key: {value: lab-minio-sk, uses: [helm-values]}
  c7n-admin-token: {value: "Bearer lab-token", uses: [http], hosts: [api.example.choerodon.io]}
`), 0o600))
	example, err := os.ReadFile(filepath.Join("..", "config", "examples", "choerodon-0.21-0.22.yaml"))
	require.NoError(t, err)
	plan := func(edit func(string) string) (string, error) {
		cfg := filepath.Join(dir, "upgrade.yaml")
		require.NoError(t, os.WriteFile(cfg, []byte(edit(string(example))), 0o600))
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"plan", "choerodon-0.21-0.22", "-c", cfg, "--worker-config", wc})
		err := root.Execute()
		return out.String(), err
	}
	https := func(s string) string {
		return strings.Replace(s, "url: http://api.example.choerodon.io", "url: https://api.example.choerodon.io", 1)
	}

	// Bound as it should be: the plan prints.
	out, err := plan(https)
	require.NoError(t, err)
	require.Contains(t, out, "preflight/api")

	// The DB root password as the API's token.
	_, err = plan(func(s string) string {
		return strings.Replace(https(s), "tokenRef: c7n-admin-token", "tokenRef: c7n-db-root", 1)
	})
	require.ErrorContains(t, err, `preflight/api: secret "c7n-db-root" may be used for mysql only (its uses: in the worker config), not for http to https://api.example.choerodon.io`)

	// api.url pointing elsewhere (also not a platform host: validation).
	_, err = plan(func(s string) string {
		return strings.Replace(s, "url: http://api.example.choerodon.io", "url: http://elsewhere.example.net/", 1)
	})
	require.ErrorContains(t, err, `preflight/api: secret "c7n-admin-token" may be sent only to api.example.choerodon.io (its hosts: in the worker config), not to elsewhere.example.net`)

	// The admin token over plain http:// to a host nobody trusted for it.
	wc2 := filepath.Join(dir, "worker2.yaml")
	b, _ := os.ReadFile(wc)
	require.NoError(t, os.WriteFile(wc2, []byte(strings.Replace(string(b), ", hosts: [api.example.choerodon.io]", "", 1)), 0o600))
	cfg := filepath.Join(dir, "plain.yaml")
	require.NoError(t, os.WriteFile(cfg, example, 0o600))
	root := newRoot()
	root.SetOut(&bytes.Buffer{})
	root.SetArgs([]string{"plan", "choerodon-0.21-0.22", "-c", cfg, "--worker-config", wc2})
	err = root.Execute()
	require.ErrorContains(t, err, `secret "c7n-admin-token" would be sent over plain http:// to api.example.choerodon.io`)

	// A secret spliced into a templated value.
	_, err = plan(func(s string) string {
		return strings.Replace(https(s), "front: example.choerodon.io", `front: 'x{{secret "c7n-db-root"}}'`, 1)
	})
	require.ErrorContains(t, err, "domains.front")
}
