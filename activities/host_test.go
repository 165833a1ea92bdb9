package activities_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/tests/lab"
)

const sshSecret = "ssh-Env-S3cret-5531"

type hostFixture struct {
	sshd   *lab.SSHD
	host   *activities.Host
	target activities.SSHTarget
	env    *testsuite.TestActivityEnvironment
	known  string
}

func newHostFixture(t testing.TB) *hostFixture {
	sshd := lab.StartSSHD(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(known, []byte(sshd.KnownHostLine+"\n"), 0o600))
	secrets := config.NewSecretStore(map[string]config.Secret{
		"lab-key": {Value: sshd.ClientKeyPEM}, "db-pw": {Value: sshSecret},
	})
	h := &activities.Host{Secrets: secrets, Scrub: secrets, KnownHostsFiles: []string{known},
		Artifacts: &activities.Artifacts{Root: t.TempDir()}, MarkerDir: t.TempDir()}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(h)
	return &hostFixture{sshd: sshd, host: h, env: env, known: known,
		target: activities.SSHTarget{Name: "mysql-1", Address: sshd.Addr, User: sshd.User, KeyRef: "lab-key"}}
}

func (f *hostFixture) run(t *testing.T, in activities.HostCommandInput) (activities.HostCommandResult, error) {
	t.Helper()
	if in.Host.Address == "" {
		in.Host = f.target
	}
	var res activities.HostCommandResult
	val, err := f.env.ExecuteActivity(f.host.Run, in)
	if err == nil {
		require.NoError(t, val.Get(&res))
	}
	return res, err
}

func appErr(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "not an application error: %v", err)
	return app
}

func TestHostCommands(t *testing.T) {
	f := newHostFixture(t)
	pwned := filepath.Join(t.TempDir(), "pwned")

	t.Run("arguments from config are quoted, never interpreted", func(t *testing.T) {
		evil := []string{"a b", "$(touch " + pwned + ")", "`touch " + pwned + "`", "x; touch " + pwned, "it's", "\"q\""}
		res, err := f.run(t, activities.HostCommandInput{Command: "printf '%s\\n'", Args: evil})
		require.NoError(t, err)
		require.Equal(t, evil, res.Tail)
		require.NoFileExists(t, pwned)
	})

	t.Run("env, secret env and dir; secrets scrubbed from what history keeps", func(t *testing.T) {
		dir := t.TempDir()
		res, err := f.run(t, activities.HostCommandInput{
			Command: `echo "$MODE in $(pwd)"; echo "pw=$DB_PW"; ps -eo args | grep -c "$DB_PW" >/dev/null; echo done`,
			Env:     map[string]string{"MODE": "stable mode"}, SecretEnv: map[string]string{"DB_PW": "db-pw"}, Dir: dir})
		require.NoError(t, err)
		require.Equal(t, []string{"stable mode in " + dir, "pw=***", "done"}, res.Tail)
		log, err := os.ReadFile(res.LogPath)
		require.NoError(t, err)
		require.NotContains(t, string(log), sshSecret, "the step log is scrubbed too")
		require.Contains(t, res.Summary, "exit 0")
	})

	t.Run("unexpected exit code", func(t *testing.T) {
		_, err := f.run(t, activities.HostCommandInput{Command: "echo starting; echo broken >&2; exit 3"})
		app := appErr(t, err)
		require.Equal(t, activities.ErrCommandFailed, app.Type())
		require.True(t, app.NonRetryable())
		require.Contains(t, app.Message(), "exited 3 (expected [0])")
		require.Contains(t, app.Message(), "starting | broken")
		_, err = f.run(t, activities.HostCommandInput{Command: "exit 3", ExpectExit: []int{0, 3}})
		require.NoError(t, err)
	})

	t.Run("failure patterns, with the guide's known warning ignored", func(t *testing.T) {
		in := activities.HostCommandInput{
			Command: "echo '[WARNING] GSE SDK error: version mismatch (known, harmless)'; echo 'check ok'",
			Failure: []string{`(?i)error`}, Ignore: []string{`GSE SDK`}}
		_, err := f.run(t, in)
		require.NoError(t, err)
		in.Command += "; echo 'ERROR: table bkiam.subject missing'"
		_, err = f.run(t, in)
		app := appErr(t, err)
		require.Equal(t, activities.ErrFailurePattern, app.Type())
		require.Contains(t, app.Message(), "ERROR: table bkiam.subject missing")
		require.NotContains(t, app.Message(), "failure lines: [WARNING] GSE SDK")
	})

	t.Run("success pattern must appear", func(t *testing.T) {
		in := activities.HostCommandInput{Command: "echo migrating; echo 'Congratulations! IAM upgrade successfully!!!'",
			Success: []string{`Congratulations! IAM upgrade successfully!!!`}}
		_, err := f.run(t, in)
		require.NoError(t, err)
		in.Command = "echo migrating; echo half done"
		_, err = f.run(t, in)
		require.Equal(t, activities.ErrSuccessMissing, appErr(t, err).Type())
	})

	t.Run("a bad pattern is a config error", func(t *testing.T) {
		_, err := f.run(t, activities.HostCommandInput{Command: "true", Failure: []string{"("}})
		require.Equal(t, "InvalidInput", appErr(t, err).Type())
	})
}

func TestHostKeysAreVerified(t *testing.T) {
	f := newHostFixture(t)
	other := lab.StartSSHD(t) // a host with another key

	t.Run("unknown host", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "known_hosts")
		require.NoError(t, os.WriteFile(empty, nil, 0o600))
		f.host.KnownHostsFiles = []string{empty}
		defer func() { f.host.KnownHostsFiles = []string{f.known} }()
		_, err := f.run(t, activities.HostCommandInput{Command: "true"})
		app := appErr(t, err)
		require.Equal(t, activities.ErrHostKeyUnknown, app.Type())
		require.Contains(t, app.Message(), "ssh-keyscan -p")
	})

	t.Run("changed host key", func(t *testing.T) {
		// known_hosts says the other server's key lives at this address.
		line := strings.Replace(other.KnownHostLine, other.Addr[strings.LastIndex(other.Addr, ":")+1:], f.sshd.Addr[strings.LastIndex(f.sshd.Addr, ":")+1:], 1)
		bad := filepath.Join(t.TempDir(), "known_hosts")
		require.NoError(t, os.WriteFile(bad, []byte(line+"\n"), 0o600))
		f.host.KnownHostsFiles = []string{bad}
		defer func() { f.host.KnownHostsFiles = []string{f.known} }()
		_, err := f.run(t, activities.HostCommandInput{Command: "true"})
		app := appErr(t, err)
		require.Equal(t, activities.ErrHostKeyChanged, app.Type())
		require.Contains(t, app.Message(), "does NOT match known_hosts")
	})

	t.Run("pinned host key", func(t *testing.T) {
		target := f.target
		target.HostKey = strings.SplitN(f.sshd.KnownHostLine, " ", 2)[1]
		_, err := f.run(t, activities.HostCommandInput{Host: target, Command: "true"})
		require.NoError(t, err)
		target.HostKey = strings.SplitN(other.KnownHostLine, " ", 2)[1]
		_, err = f.run(t, activities.HostCommandInput{Host: target, Command: "true"})
		require.Equal(t, activities.ErrHostKeyChanged, appErr(t, err).Type())
	})

	t.Run("refused key", func(t *testing.T) {
		f.host.Secrets = config.NewSecretStore(map[string]config.Secret{"lab-key": {Value: other.ClientKeyPEM}})
		defer func() {
			f.host.Secrets = config.NewSecretStore(map[string]config.Secret{"lab-key": {Value: f.sshd.ClientKeyPEM}, "db-pw": {Value: sshSecret}})
		}()
		_, err := f.run(t, activities.HostCommandInput{Command: "true"})
		app := appErr(t, err)
		require.Equal(t, activities.ErrHostAuthFailed, app.Type())
		require.Contains(t, app.Message(), `refused the key in secret "lab-key"`)
	})

	t.Run("unreachable host is worth retrying", func(t *testing.T) {
		target := f.target
		target.Address = "127.0.0.1:1"
		_, err := f.run(t, activities.HostCommandInput{Host: target, Command: "true"})
		require.Error(t, err)
		require.Contains(t, err.Error(), "unable to reach mysql-1")
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			require.False(t, app.NonRetryable())
		}
	})
}

func TestUploadRendersSecretsOnTheWorkerAndChecksums(t *testing.T) {
	f := newHostFixture(t)
	dest := filepath.Join(t.TempDir(), "wecube", "docker-compose.yml")
	in := activities.UploadInput{Host: f.target, Path: dest, Template: true,
		Content: "services:\n  platform:\n    image: wecube-platform:{{ .version }}\n    environment:\n      MYSQL_PASSWORD: '{{ secret \"db-pw\" }}'\n",
		Vars:    map[string]string{"version": "v4.0.0"}}
	val, err := f.env.ExecuteActivity(f.host.Upload, in)
	require.NoError(t, err)
	var res activities.UploadResult
	require.NoError(t, val.Get(&res))
	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	require.Contains(t, string(b), "wecube-platform:v4.0.0")
	require.Contains(t, string(b), "MYSQL_PASSWORD: '"+sshSecret+"'")
	st, _ := os.Stat(dest)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.NotContains(t, res.Summary, sshSecret)

	in.Vars = nil
	_, err = f.env.ExecuteActivity(f.host.Upload, in)
	require.ErrorContains(t, err, "version")
}

func TestChecksumOnHostAndWorker(t *testing.T) {
	f := newHostFixture(t)
	file := filepath.Join(t.TempDir(), "bkce-src-6.2.2.tgz")
	content := bytes.Repeat([]byte("blueking"), 1000)
	require.NoError(t, os.WriteFile(file, content, 0o600))
	sum := md5.Sum(content)
	want := hex.EncodeToString(sum[:])
	for _, target := range []*activities.SSHTarget{&f.target, nil} {
		_, err := f.env.ExecuteActivity(f.host.Checksum, activities.ChecksumInput{Host: target, Path: file, Algorithm: "md5", Expect: strings.ToUpper(want)})
		require.NoError(t, err)
		_, err = f.env.ExecuteActivity(f.host.Checksum, activities.ChecksumInput{Host: target, Path: file, Algorithm: "md5", Expect: "4213478c6b2c3e645c0c30009de474b8"})
		app := appErr(t, err)
		require.Equal(t, activities.ErrChecksumMismatch, app.Type())
		require.Contains(t, app.Message(), "the guide says 4213478c6b2c3e645c0c30009de474b8")
	}
}

// FuzzQuoteArgs proves that no argument, whatever it holds, escapes its
// quotes: a real shell gives back exactly the arguments it was given.
func FuzzQuoteArgs(f *testing.F) {
	for _, s := range []string{"plain", "a b", "'", `"`, "$(id)", "`id`", "; rm -rf /", "\\", "\n", "$HOME", "*", "--", "-n", "é漢字", "a'b'c"} {
		f.Add(s, "second")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsRune(a+b, 0) {
			t.Skip("a shell argument cannot hold NUL")
		}
		out, err := exec.Command("sh", "-c", "printf '%s\\0' "+activities.QuoteArgs([]string{a, b})).Output()
		require.NoError(t, err)
		require.Equal(t, a+"\x00"+b+"\x00", string(out))
	})
}

// TestRunPublishesWhatTheCommandPrinted: name=value lines become outputs a
// later step takes (the JOB versions read from VERSION files); a missing
// one fails the step instead of passing an empty version on.
func TestRunPublishesWhatTheCommandPrinted(t *testing.T) {
	f := newHostFixture(t)
	res, err := f.run(t, activities.HostCommandInput{Host: f.target, Repeatable: true,
		Command: "echo from_version=3.6.4; echo to_version=3.7.5; echo done", Publish: []string{"from_version", "to_version"}, PublishTail: 2})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"from_version": "3.6.4", "to_version": "3.7.5", "tail": "to_version=3.7.5\ndone"}, res.Outputs)

	_, err = f.run(t, activities.HostCommandInput{Host: f.target, Repeatable: true,
		Command: "echo from_version=", Publish: []string{"from_version"}})
	require.ErrorContains(t, err, "printed no from_version=<value> line")
}
