// Package integration_test runs upgrader against a real Temporal dev server
// (the pinned CLI, started by the tests), with the worker and the starter as
// real processes built from this checkout.
package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"upgrader/config"
	"upgrader/internal/app"
	"upgrader/internal/codec"
	labsrv "upgrader/tests/lab"
)

var (
	server    *testsuite.DevServer
	binDir    string
	serverLog bytes.Buffer
	// codecClient is the tests' client: it encrypts and decrypts with the
	// codec key ring every worker and starter of these tests uses.
	codecClient client.Client
	// payloadCodec decodes the tests' histories.
	payloadCodec *codec.Codec
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := app.TemporalBin(); err != nil {
		fmt.Fprintln(os.Stderr, "integration tests need the dev server:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "upgrader-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	for _, name := range []string{"worker", "starter"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "upgrader/"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", name, err, out)
			return 1
		}
	}
	ctx := context.Background()
	server, err = app.StartDevServer(ctx, app.DevServerOptions{Log: &serverLog})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer server.Stop()
	// Every worker and starter these tests run encrypts its payloads: the
	// key ring reaches them through the environment they inherit.
	keys := filepath.Join(binDir, "codec.keys")
	line, err := codec.NewKeyLine("test-1")
	if err == nil {
		err = os.WriteFile(keys, []byte(line+"\n"), 0o600)
	}
	if err == nil {
		err = os.Setenv(config.EnvPrefix+"_TEMPORAL_CODEC_KEYFILE", keys)
	}
	if err == nil {
		payloadCodec, err = app.Codec(config.Codec{KeyFile: keys})
	}
	if err == nil {
		codecClient, err = app.Dial(ctx, config.Temporal{Address: server.FrontendHostPort(), Namespace: "default",
			Codec: config.Codec{KeyFile: keys}}, app.NewLogger("error", &serverLog))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "codec:", err)
		return 1
	}
	defer codecClient.Close()
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "dev server log (tail):\n%s\n", tail(serverLog.String(), 3000))
	}
	return code
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func temporalClient() client.Client { return codecClient }

// starter runs the starter binary against the test server and returns its
// combined output and error.
func starter(t testing.TB, workerCfg string, args ...string) (string, error) {
	t.Helper()
	return starterAs(t, "tester", workerCfg, args...)
}

// starterAs runs the starter as OS user user ($USER): the identity runs
// record when no client certificate is configured.
func starterAs(t testing.TB, user, workerCfg string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := append([]string{"--worker-config", workerCfg}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "starter"), full...)
	cmd.Env = append(os.Environ(), "USER="+user)
	out, err := cmd.CombinedOutput()
	logs.add(t, "starter "+strings.Join(args, " "), string(out))
	return string(out), err
}

// logs keeps every process output of a test, for the secret check.
var logs = &procLogs{byTest: map[string][]procLog{}}

type procLog struct {
	name string
	text func() string
}

type procLogs struct {
	mu     sync.Mutex
	byTest map[string][]procLog
}

func (l *procLogs) add(t testing.TB, name, text string) {
	l.addFunc(t, name, func() string { return text })
}

func (l *procLogs) addFunc(t testing.TB, name string, text func() string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byTest[t.Name()] = append(l.byTest[t.Name()], procLog{name, text})
}

func (l *procLogs) of(t testing.TB) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	for i, p := range l.byTest[t.Name()] {
		out[fmt.Sprintf("%s (#%d)", p.name, i+1)] = p.text()
	}
	return out
}

// assertNoSecrets is the one secret check every end-to-end test ends with:
// every event of every run of id, payloads decoded (lab.NoSecrets), every
// worker's and starter's output of the test, and the journal and log files
// under artifactDir; no secret in any form (raw, JSON, URL, base64), and
// every payload encrypted by the codec.
func assertNoSecrets(t testing.TB, id, artifactDir string, minEvents int, secrets ...string) {
	t.Helper()
	labsrv.NoSecrets(t, labsrv.SecretCheck{Client: temporalClient(), Codec: payloadCodec, WorkflowID: id,
		Secrets: secrets, Logs: logs.of(t), ArtifactDir: artifactDir, MinEvents: minEvents, Encrypted: true})
}

func mustStarter(t testing.TB, workerCfg string, args ...string) string {
	t.Helper()
	return mustStarterAs(t, "tester", workerCfg, args...)
}

func mustStarterAs(t testing.TB, user, workerCfg string, args ...string) string {
	t.Helper()
	out, err := starterAs(t, user, workerCfg, args...)
	if err != nil {
		t.Fatalf("starter %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// workerProc is a worker running as its own process, so tests can kill it.
type workerProc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startWorker(t testing.TB, cfgPath string, env ...string) *workerProc {
	t.Helper()
	return startWorkerArgs(t, []string{"-c", cfgPath}, env...)
}

// startWorkerArgs is startWorker with the worker's command-line arguments.
func startWorkerArgs(t testing.TB, args []string, env ...string) *workerProc {
	t.Helper()
	var buf bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, "worker"), args...)
	cmd.Env = append(os.Environ(), env...)
	sw := &syncWriter{w: &buf}
	cmd.Stdout, cmd.Stderr = sw, sw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs.addFunc(t, "worker", sw.String)
	w := &workerProc{cmd: cmd, log: &buf}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			_ = w.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", tail(buf.String(), 4000))
		}
	})
	return w
}

// syncWriter is a buffer a process writes to while a test reads it.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// kill ends the worker the hard way: no graceful stop, no last heartbeat.
func (w *workerProc) kill(t testing.TB) {
	t.Helper()
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = w.cmd.Wait()
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}
