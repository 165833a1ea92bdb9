package integration_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"upgrader/activities"
	"upgrader/internal/contract"
	labsrv "upgrader/tests/lab"
)

// These tests prove on a real Temporal dev server, a real worker process and
// the lab's OpenSSH server that a host command not marked repeatable runs
// once: a worker SIGKILLed mid-command, or the SSH connection cut, makes
// the next try wait for the command the first one started and report its
// real exit code, and the command's side effect (a line appended to a file)
// happens exactly once.

var (
	hostWorkerOnce sync.Once
	hostWorkerBin  string
	hostWorkerErr  error
)

// buildHostWorker builds testdata/hostworker once per test binary.
func buildHostWorker(t *testing.T) string {
	t.Helper()
	hostWorkerOnce.Do(func() {
		hostWorkerBin = filepath.Join(binDir, "hostworker")
		out, err := exec.Command("go", "build", "-o", hostWorkerBin, "upgrader/tests/integration/testdata/hostworker").CombinedOutput()
		if err != nil {
			hostWorkerErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if hostWorkerErr != nil {
		t.Fatalf("building hostworker: %v", hostWorkerErr)
	}
	return hostWorkerBin
}

// hostStepInput is testdata/hostworker's StepInput.
type hostStepInput struct {
	Command     activities.HostCommandInput `json:"command"`
	Step        string                      `json:"step"`
	Heartbeat   time.Duration               `json:"heartbeat"`
	Tries       int                         `json:"tries,omitempty"`
	FirstTry    time.Duration               `json:"firstTryTimeout,omitempty"`
	MaxAttempts int32                       `json:"maxAttempts,omitempty"`
}

// hostLab is one sshd, a worker's files and a task queue of its own.
type hostLab struct {
	sshd    *labsrv.SSHD
	queue   string
	dir     string
	known   string
	keyFile string
	markers string
	target  activities.SSHTarget
}

func newHostLab(t *testing.T, name string) *hostLab {
	sshd := labsrv.StartSSHD(t)
	dir := t.TempDir()
	h := &hostLab{sshd: sshd, queue: "host-" + name, dir: dir,
		known:   writeFile(t, filepath.Join(dir, "known_hosts"), sshd.KnownHostLine+"\n"),
		keyFile: writeFile(t, filepath.Join(dir, "key.pem"), sshd.ClientKeyPEM),
		markers: filepath.Join(dir, "markers"),
		target:  activities.SSHTarget{Name: "bk-1", Address: sshd.Addr, User: sshd.User, KeyRef: "lab-key"}}
	return h
}

func (h *hostLab) startWorker(t *testing.T) *workerProc {
	t.Helper()
	var buf bytes.Buffer
	cmd := exec.Command(buildHostWorker(t), "-address", server.FrontendHostPort(), "-queue", h.queue,
		"-known-hosts", h.known, "-key-file", h.keyFile, "-marker-dir", h.markers, "-artifacts", filepath.Join(h.dir, "artifacts"))
	cmd.Stdout, cmd.Stderr = &buf, &buf
	require.NoError(t, cmd.Start())
	w := &workerProc{cmd: cmd, log: &buf}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			_ = w.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("hostworker log:\n%s", tail(buf.String(), 4000))
		}
	})
	return w
}

// start runs HostStep with a 3 s heartbeat timeout: the contract the
// declared 20 s holds in production, scaled down so a kill costs seconds.
func (h *hostLab) start(t *testing.T, step string, in activities.HostCommandInput) client.WorkflowRun {
	t.Helper()
	return h.startInput(t, hostStepInput{Command: in, Step: step})
}

func (h *hostLab) startInput(t *testing.T, in hostStepInput) client.WorkflowRun {
	t.Helper()
	if in.Command.Host.Address == "" {
		in.Command.Host = h.target
	}
	in.Heartbeat = 3 * time.Second
	run, err := temporalClient().ExecuteWorkflow(context.Background(),
		client.StartWorkflowOptions{ID: "host/" + h.queue + "/" + strconv.FormatInt(time.Now().UnixNano(), 36), TaskQueue: h.queue},
		"HostStep", in)
	require.NoError(t, err)
	return run
}

// lines reads the file the command appends to.
func lines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	return strings.Fields(strings.TrimSpace(string(b)))
}

// attempts counts the activity tries Temporal started for a run.
func attempts(t *testing.T, run client.WorkflowRun) int32 {
	it := temporalClient().GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var last int32
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			last = a.GetAttempt()
		}
	}
	return last
}

// appendOnce is the guide-like command: it appends a line (its pid) to a
// file, works for 20 s, and exits with code.
func appendOnce(file string, code int) activities.HostCommandInput {
	return activities.HostCommandInput{
		Command: `echo "$$" >> "$LINES"; echo "appended"; sleep 20; echo "finished"; exit ` + strconv.Itoa(code),
		Env:     map[string]string{"LINES": file},
	}
}

func TestHostCommandRunsOnceThroughAWorkerKill(t *testing.T) {
	t.Parallel()
	h := newHostLab(t, "kill")
	file := filepath.Join(h.dir, "appended")
	w1 := h.startWorker(t)
	in := appendOnce(file, 3)
	in.ExpectExit = []int{3}
	began := time.Now()
	run := h.start(t, "upgrade-job/bk-1", in)

	eventually(t, 30*time.Second, "the command to start on the host", func() bool { return len(lines(t, file)) == 1 })
	time.Sleep(10*time.Second - time.Since(began))
	w1.kill(t)
	t.Logf("worker killed %.1fs after the start", time.Since(began).Seconds())
	h.startWorker(t)

	var res activities.HostCommandResult
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	require.NoError(t, run.Get(ctx, &res))
	t.Logf("step done %.1fs after the start, %d Temporal attempts: %s", time.Since(began).Seconds(), attempts(t, run), res.Summary)
	require.Len(t, lines(t, file), 1, "the command ran exactly once")
	require.Equal(t, 3, res.ExitCode, "the command's real exit code")
	require.True(t, res.Reattached, "the second try took the first one's run")
	require.Equal(t, []string{"appended", "finished"}, res.Tail, "the whole output, the part before the kill included")
	require.GreaterOrEqual(t, attempts(t, run), int32(2))
}

func TestHostCommandRunsOnceThroughACutSSHConnection(t *testing.T) {
	t.Parallel()
	h := newHostLab(t, "cut")
	proxy := startCutProxy(t, h.sshd.Addr)
	target := h.target
	target.Address = proxy.addr()
	target.HostKey = strings.SplitN(h.sshd.KnownHostLine, " ", 2)[1]
	file := filepath.Join(h.dir, "appended")
	h.startWorker(t)
	in := appendOnce(file, 5)
	in.Host = target
	began := time.Now()
	run := h.start(t, "upgrade-job/bk-1", in)

	eventually(t, 30*time.Second, "the command to start on the host", func() bool { return len(lines(t, file)) == 1 })
	time.Sleep(10*time.Second - time.Since(began))
	require.Positive(t, proxy.cut(), "an SSH connection was open to cut")
	t.Logf("SSH connection cut %.1fs after the start", time.Since(began).Seconds())

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := run.Get(ctx, nil)
	t.Logf("step ended %.1fs after the start, %d Temporal attempts", time.Since(began).Seconds(), attempts(t, run))
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, activities.ErrCommandFailed, app.Type())
	require.Contains(t, app.Message(), "exited 5 (expected [0])", "the command's real exit code")
	var res activities.HostCommandResult
	require.NoError(t, app.Details(&res))
	require.Equal(t, 5, res.ExitCode)
	require.True(t, res.Reattached)
	require.Len(t, lines(t, file), 1, "the command ran exactly once")
	require.GreaterOrEqual(t, attempts(t, run), int32(2))
}

// A command whose process is gone without an exit code (the host
// rebooted, someone killed it) may have run in part: the step stops for a
// person rather than run it again.
func TestHostCommandGoneWithoutExitCodeIsNotRepeated(t *testing.T) {
	t.Parallel()
	h := newHostLab(t, "lost")
	file := filepath.Join(h.dir, "appended")
	h.startWorker(t)
	run := h.start(t, "upgrade-job/bk-1", appendOnce(file, 0))

	var pid int
	eventually(t, 30*time.Second, "the runner's pid in the marker", func() bool {
		m, _ := filepath.Glob(filepath.Join(h.markers, "*", "*", "*", "pid"))
		if len(m) != 1 {
			return false
		}
		b, _ := os.ReadFile(m[0])
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0 && len(lines(t, file)) == 1
	})
	// The runner leads its own session and process group (setsid): kill
	// the group, the command with it, as a reboot would.
	require.NoError(t, syscall.Kill(-pid, syscall.SIGKILL))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run.Get(ctx, nil)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, contract.ErrNotRepeatable, app.Type())
	require.Contains(t, app.Message(), "is gone without an exit code")
	require.Contains(t, app.Message(), "by try 1, attempt 1")
	require.Len(t, lines(t, file), 1)
	require.Equal(t, int32(1), attempts(t, run), "never started again")
}

// An operator's retry is a new try with its own marker; while the earlier
// try's run of the same command still goes on on the host (its try timed
// out), the new try waits for that run and takes its result instead of
// starting a second one.
func TestHostCommandNewTryTakesTheEarlierTrysRun(t *testing.T) {
	t.Parallel()
	h := newHostLab(t, "retry")
	file := filepath.Join(h.dir, "appended")
	h.startWorker(t)
	// Try 1 times out after 4 s with no Temporal retry left while the
	// command goes on for 20 s; try 2 starts at once.
	run := h.startInput(t, hostStepInput{Command: appendOnce(file, 0), Step: "upgrade-job/bk-1",
		Tries: 2, FirstTry: 4 * time.Second, MaxAttempts: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res activities.HostCommandResult
	require.NoError(t, run.Get(ctx, &res))
	t.Log(res.Summary)
	require.Len(t, lines(t, file), 1, "started once")
	require.True(t, res.Reattached)
	require.Contains(t, res.StartedBy, "by try 1, attempt 1")
	require.Equal(t, 0, res.ExitCode)
	require.Equal(t, []string{"appended", "finished"}, res.Tail)
}

// cutProxy forwards TCP to an sshd and can cut every open connection, as a
// network failure does.
type cutProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{l: l, target: target}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(d, c); d.Close() }()
			go func() { _, _ = io.Copy(c, d); c.Close() }()
		}
	}()
	t.Cleanup(func() { l.Close(); p.cut() })
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

// cut closes every open connection and returns how many client
// connections it cut.
func (p *cutProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	return n
}
