package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
)

// TestWorkerConfigRulesNameTheirKey: one case per rule of the worker config
// check, each refused before anything dials or starts, by its key.
func TestWorkerConfigRulesNameTheirKey(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open-charts")
	require.NoError(t, os.Mkdir(open, 0o755))
	require.NoError(t, os.Chmod(open, 0o777))
	secret := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(secret, []byte("pw"), 0o600))
	require.NoError(t, os.Chmod(secret, 0o666))
	for _, c := range []struct{ name, yaml, key, says string }{
		{"address with a scheme", "temporal: {address: 'http://t:7233'}", "temporal.address", "without a scheme"},
		{"port out of range", "temporal: {address: 't:70000'}", "temporal.address", "is not a port"},
		{"relative artifactDir", "artifactDir: artifacts", "artifactDir", "absolute, clean path"},
		{"traversing artifactDir", "artifactDir: /srv/../etc", "artifactDir", "absolute, clean path"},
		{"file:// repository", "chartRepos: {c7n: 'file:///tmp/charts'}", "chartRepos.c7n", "file:// repositories are refused"},
		{"user info in a repository", "chartRepos: {c7n: 'https://a@b.example/'}", "chartRepos.c7n", "user info"},
		{"chart folder others may write", "chartDirs: [" + open + "]", "chartDirs[0]", "chmod go-w"},
		{"secret file that does not exist", "secrets: {pw: {file: /nope/pw}}", "secrets.pw.file", "cannot read"},
		{"secret file others may write", "secrets: {pw: {file: " + secret + "}}", "secrets.pw.file", "chmod go-w"},
		{"secrets differing only in case", "secrets: {db: {value: a}, DB: {value: b}}", "secrets.DB", "only in case"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.LoadWorker(write(t, c.yaml+"\n"))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.key+":")
			require.Contains(t, err.Error(), c.says)
		})
	}
}
