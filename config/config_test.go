package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
	"upgrader/workflows"
)

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestEmptyConfigMeansALocalDevServer(t *testing.T) {
	cfg, err := config.LoadWorker("")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7233", cfg.Temporal.Address)
	require.Equal(t, "default", cfg.Temporal.Namespace)
	require.Equal(t, "upgrader", cfg.Temporal.TaskQueue)
}

func TestEnvironmentOverridesTheFile(t *testing.T) {
	p := write(t, "temporal:\n  address: file:7233\n  namespace: prod\n")
	t.Setenv("UPGRADER_TEMPORAL_ADDRESS", "env:7233")
	t.Setenv("UPGRADER_ARTIFACTDIR", "/srv/artifacts")
	cfg, err := config.LoadWorker(p)
	require.NoError(t, err)
	require.Equal(t, "env:7233", cfg.Temporal.Address)
	require.Equal(t, "prod", cfg.Temporal.Namespace)
	require.Equal(t, "/srv/artifacts", cfg.ArtifactDir)
}

func TestEveryProblemIsReportedAtOnceByField(t *testing.T) {
	p := write(t, `
temporal:
  address: nohost
  namespace: ""
  tls:
    certFile: /nope/cert.pem
logLevel: loud
secrets:
  a: {env: A, file: /x}
  b: {env: ""}
`)
	_, err := config.LoadWorker(p)
	require.Error(t, err)
	for _, want := range []string{
		`temporal.address: "nohost" has no port`,
		"temporal.namespace: is empty",
		"temporal.tls.enabled: is false but TLS files are set",
		"temporal.tls: certFile and keyFile go together",
		"temporal.tls.certFile: cannot read /nope/cert.pem",
		`logLevel: "loud" is not one of`,
		"secrets.a: set exactly one of env, file, value",
		"secrets.b: set exactly one of env, file, value",
	} {
		require.Contains(t, err.Error(), want)
	}
}

func TestUnknownKeysAreErrors(t *testing.T) {
	_, err := config.LoadWorker(write(t, "temporal:\n  adress: x:1\n"))
	require.ErrorContains(t, err, "adress")
}

func TestSecretsResolveOnTheWorkerAndAreScrubbed(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(file, []byte("from-file-pw\n"), 0o600))
	t.Setenv("PW_ENV", "from-env-pw")
	s := config.NewSecretStore(map[string]config.Secret{
		"e": {Env: "PW_ENV"}, "f": {File: file}, "v": {Value: "inline-pw"}, "unset": {Env: "NOT_SET_ANYWHERE"},
	})
	for name, want := range map[string]string{"e": "from-env-pw", "f": "from-file-pw", "v": "inline-pw"} {
		got, err := s.Resolve(name)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := s.Resolve("missing")
	require.ErrorContains(t, err, `secret "missing" is not configured on the worker`)
	require.ErrorContains(t, err, "known: e, f, unset, v")
	_, err = s.Resolve("unset")
	require.ErrorContains(t, err, "NOT_SET_ANYWHERE, which is not set")

	text := "dial root:from-env-pw@tcp(db) and from-file-pw and inline-pw"
	require.Equal(t, "dial root:***@tcp(db) and *** and ***", s.Scrub(text))

	bearer := config.NewSecretStore(map[string]config.Secret{"tok": {Value: "Bearer abcdef123456"}})
	require.Equal(t, "sent *** and the server said token *** expired",
		bearer.Scrub("sent Bearer abcdef123456 and the server said token abcdef123456 expired"))
}

func TestUpgradeConfigIsStrictAndValidatedAsAWhole(t *testing.T) {
	in := workflows.NewDemoInput()
	err := config.LoadUpgrade(write(t, "guide: demo\nlabDir: /l\nrelease: [x]\n"), "demo", &in)
	require.ErrorContains(t, err, "release") // a typo of releases is not ignored

	err = config.LoadUpgrade(write(t, "guide: skoala\n"), "demo", &in)
	require.ErrorContains(t, err, `is for guide "skoala", not "demo"`)

	in = workflows.NewDemoInput()
	require.NoError(t, config.LoadUpgrade(write(t, `
environment: Prod Site
from: ""
labDir: ""
releases: [hzero-iam, "Bad_Name", hzero-iam]
oldReleases: [hzero-iam]
passwordRef: ""
healthURL: ftp://x
gateRemindAfter: 45m
`), "demo", &in))
	require.Equal(t, "45m0s", in.GateRemindAfter.String())
	err = in.Validate()
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`environment: "Prod Site" must be lower-case`,
		"from: is empty",
		"labDir: is empty",
		`releases[1]: "Bad_Name" is not a release name`,
		`releases[0]: "hzero-iam" is also oldReleases[0]`,
		"passwordRef: is empty",
		`healthURL: "ftp://x" is not an http(s) URL`,
	} {
		require.Contains(t, msg, want)
	}
	require.GreaterOrEqual(t, strings.Count(msg, "\n  - "), 7)
}
