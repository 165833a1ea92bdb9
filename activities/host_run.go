package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/internal/text"
)

// Run heartbeats from a ticker while its command runs (and while it waits
// for a command an earlier try started), so a lost worker is noticed within
// this timeout, not at the step's start-to-close limit.
var _ = contract.Declare((*Host).Run, contract.Options{Heartbeat: 20 * time.Second})

// HostCommandInput is one command on one host.
type HostCommandInput struct {
	Host SSHTarget `json:"host"`
	// Command is the guide's command, written by the guide's author (it is
	// run by the shell as is). Anything that comes from config goes into
	// Args or Env, which are quoted.
	Command string            `json:"command"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// SecretEnv maps variable names to secret names; the values are
	// resolved on the worker and sent over the session's stdin, so they
	// appear neither in history nor in the host's process list.
	SecretEnv map[string]string `json:"secretEnv,omitempty"`
	Dir       string            `json:"dir,omitempty"`
	// ExpectExit lists the exit codes that mean success; empty means [0].
	ExpectExit []int `json:"expectExit,omitempty"`
	// Success patterns must all appear in the output; Failure patterns must
	// not (lines matching an Ignore pattern are not held against it).
	Success []string `json:"success,omitempty"`
	Failure []string `json:"failure,omitempty"`
	Ignore  []string `json:"ignore,omitempty"`
	// Shell runs the script; empty means "sh".
	Shell string `json:"shell,omitempty"`
	// Repeatable says the command is safe to run again (a check, a read, an
	// idempotent write). Unset, the command runs at most once per step try:
	// it is started detached on the host under a marker folder for (run,
	// step try, command), and a retry after a lost worker or SSH session
	// waits for it and takes its recorded exit code and output instead of
	// starting it again (`mv /data/src /data/src.bak`, `>> dbadmin.env`).
	Repeatable bool `json:"repeatable,omitempty"`
	// Publish names values the command prints as `name=value` lines, which
	// later steps take (Step.Inputs) from the result's Outputs: a version
	// read from a file on the host. They must not be secret.
	Publish []string `json:"publish,omitempty"`
	// PublishTail publishes the last N lines of the (scrubbed) output as the
	// output "tail", for a gate to show a person what a check printed.
	PublishTail int `json:"publishTail,omitempty"`
}

// HostCommandResult is what history keeps of a command: the exit code and a
// scrubbed tail (at most 200 lines, 64 KiB). The whole output is in the
// step's log in the run's artifact folder (LogPath), and for a command run
// once also on the host (Marker/out).
type HostCommandResult struct {
	contract.Outcome
	ExitCode int      `json:"exitCode"`
	Lines    int      `json:"lines"`
	Tail     []string `json:"tail"`
	LogPath  string   `json:"logPath"`
	// Marker is the folder on the host that holds a run-once command's
	// marker, exit code and full output.
	Marker string `json:"marker,omitempty"`
	// Reattached is set when this try took the result of the command an
	// earlier try started, rather than starting it.
	Reattached bool `json:"reattached,omitempty"`
	// StartedBy says when and by which try (and Temporal attempt) the
	// command was started, when this try took that run.
	StartedBy string `json:"startedBy,omitempty"`
}

// QuoteArgs quotes each argument for a POSIX shell and joins them.
func QuoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellescape.Quote(a)
	}
	return strings.Join(q, " ")
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// exports is the part of the remote script that sets the environment,
// secret values included; it travels only on the session's stdin.
func (in HostCommandInput) exports(secrets map[string]string) (string, error) {
	var b strings.Builder
	keys := make([]string, 0, len(in.Env)+len(secrets))
	vals := map[string]string{}
	for k, v := range in.Env {
		keys, vals[k] = append(keys, k), v
	}
	for k, v := range secrets {
		keys, vals[k] = append(keys, k), v
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !envName.MatchString(k) {
			return "", invalid("environment variable name %q is not valid", k)
		}
		b.WriteString("export " + k + "=" + shellescape.Quote(vals[k]) + "\n")
	}
	return b.String(), nil
}

// body is the command itself: change to Dir, then the guide's command with
// its quoted arguments. It holds no secret values.
func (in HostCommandInput) body() string {
	var b strings.Builder
	if in.Dir != "" {
		b.WriteString("cd " + shellescape.Quote(in.Dir) + " || exit 97\n")
	}
	b.WriteString(in.Command)
	if len(in.Args) > 0 {
		b.WriteString(" " + QuoteArgs(in.Args))
	}
	b.WriteString("\n")
	return b.String()
}

func (in HostCommandInput) shell() string {
	if strings.TrimSpace(in.Shell) == "" {
		return "sh"
	}
	return in.Shell
}

// commandProgress is what a command's heartbeats carry.
type commandProgress struct {
	Lines  int    `json:"lines"`
	Last   string `json:"last"`
	Marker string `json:"marker,omitempty"`
}

// Run runs a command on a host, streams its output to the step's log file,
// heartbeats progress, and judges it by exit code and output patterns. A
// command not marked Repeatable runs at most once per step try, whatever
// happens to the worker or the SSH session (see HostCommandInput.Repeatable).
func (h *Host) Run(ctx context.Context, in HostCommandInput) (HostCommandResult, error) {
	res, all, err := h.run(ctx, in, len(in.Publish) > 0)
	if err != nil {
		return res, err
	}
	return publish(in, res, all)
}

// publish sets the result's Outputs from what the command printed.
func publish(in HostCommandInput, res HostCommandResult, all string) (HostCommandResult, error) {
	if len(in.Publish) == 0 && in.PublishTail <= 0 {
		return res, nil
	}
	res.Outputs = map[string]string{}
	for _, l := range strings.Split(all, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if ok && containsString(in.Publish, k) {
			res.Outputs[k] = strings.TrimSpace(v)
		}
	}
	for _, k := range in.Publish {
		if res.Outputs[k] == "" {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"`%s` on %s printed no %s=<value> line (or an empty value); full log: %s", oneLine(in.Command), in.Host, k, res.LogPath),
				ErrSuccessMissing, nil, res)
		}
	}
	if in.PublishTail > 0 {
		res.Outputs["tail"] = strings.Join(lastN(res.Tail, in.PublishTail), "\n")
	}
	return res, nil
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// run is Run; with keepAll it also returns the whole scrubbed output of the
// command, read from the command itself (not from the step log), for steps
// in this package that parse what a command printed.
func (h *Host) run(ctx context.Context, in HostCommandInput, keepAll bool) (HostCommandResult, string, error) {
	if strings.TrimSpace(in.Command) == "" {
		return HostCommandResult{}, "", invalid("no command to run on %s", in.Host)
	}
	success, failure, ignore, err := compileAll(in.Success, in.Failure, in.Ignore)
	if err != nil {
		return HostCommandResult{}, "", err
	}
	secrets := map[string]string{}
	for k, ref := range in.SecretEnv {
		v, err := resolveSecretFor(h.Secrets, ref, config.SecretUse{Kind: config.UseSSHEnv})
		if err != nil {
			return HostCommandResult{}, "", err
		}
		secrets[k] = v
	}
	exports, err := in.exports(secrets)
	if err != nil {
		return HostCommandResult{}, "", err
	}
	logPath, logFile, err := h.openLog(ctx)
	if err != nil {
		return HostCommandResult{}, "", err
	}
	defer logFile.Close()

	prog := &Progress{}
	scan := newOutputScan(h.scrub, logFile, success, failure, ignore, keepAll)
	scan.onLine = func(lines int, last, marker string) {
		prog.Set(commandProgress{Lines: lines, Last: last, Marker: marker})
	}
	var (
		code      int
		startedBy string
	)
	// What an earlier attempt of this try left in its heartbeats: the marker
	// of the command it started, which may still run on the host.
	var prior commandProgress
	priorProgress(ctx, &prior)
	err = whileHeartbeating(ctx, prog, func(ctx context.Context) error {
		client, err := h.Dial(ctx, in.Host)
		var app *temporal.ApplicationError
		if err != nil && !in.Repeatable && prior.Marker != "" && !errors.As(err, &app) && ctx.Err() == nil {
			return fmt.Errorf("%w; `%s` was started there by an earlier attempt (marker %s) and may still be running: "+
				"the next attempt reattaches to it once the host answers, and never starts it again", err, oneLine(in.Command), prior.Marker)
		}
		if err != nil {
			return err
		}
		defer client.Close()
		if in.Repeatable {
			code, err = h.runDirect(ctx, client, in, exports, scan)
			return err
		}
		code, startedBy, err = h.runOnce(ctx, client, in, exports, scan, prog)
		return err
	})
	p := scan.progress()
	res := HostCommandResult{ExitCode: code, Lines: p.Lines, Tail: scan.tail, LogPath: logPath, Marker: p.Marker,
		Reattached: startedBy != "", StartedBy: startedBy}
	if err != nil {
		return HostCommandResult{}, "", err
	}
	return h.judge(in, res, scan)
}

// judge holds the result against the expected exit codes and patterns.
func (h *Host) judge(in HostCommandInput, res HostCommandResult, scan *outputScan) (HostCommandResult, string, error) {
	last := text.Truncate(strings.Join(lastN(res.Tail, 5), " | "), 2000)
	where := res.LogPath
	if res.Marker != "" {
		where += " (and " + res.Marker + "/out on the host)"
	}
	expect := in.ExpectExit
	if len(expect) == 0 {
		expect = []int{0}
	}
	all := scan.all.String()
	if !containsInt(expect, res.ExitCode) {
		return res, all, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"`%s` on %s exited %d (expected %v); last output: %s; full log: %s",
			oneLine(in.Command), in.Host, res.ExitCode, expect, last, where), ErrCommandFailed, nil, res)
	}
	if len(scan.failLines) > 0 {
		return res, all, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"`%s` on %s printed failure lines: %s; full log: %s", oneLine(in.Command), in.Host,
			strings.Join(scan.failLines, " | "), where), ErrFailurePattern, nil, res)
	}
	for i, ok := range scan.seen {
		if !ok {
			return res, all, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"`%s` on %s did not print %q; last output: %s; full log: %s", oneLine(in.Command), in.Host,
				in.Success[i], last, where), ErrSuccessMissing, nil, res)
		}
	}
	res.Summary = fmt.Sprintf("exit %d on %s, %d lines", res.ExitCode, in.Host, res.Lines)
	if res.Reattached {
		res.Summary += " (taken from the run started " + res.StartedBy + ")"
	}
	if len(res.Tail) > 0 {
		res.Summary += ": " + text.Truncate(res.Tail[len(res.Tail)-1], 300)
	}
	return res, all, nil
}

// runDirect runs a repeatable command in the SSH session itself: if the
// session is lost, the command may die with it and the next try runs it
// again, which is what Repeatable allows.
func (h *Host) runDirect(ctx context.Context, client *ssh.Client, in HostCommandInput, exports string, scan *outputScan) (int, error) {
	sess, err := client.NewSession()
	if err != nil {
		return 0, fmt.Errorf("unable to open a session on %s: %w", in.Host, err)
	}
	defer sess.Close()
	pr, pw := io.Pipe()
	sess.Stdout, sess.Stderr = pw, pw
	// One stream, in the order the command wrote it.
	sess.Stdin = strings.NewReader("exec 2>&1\n" + exports + in.body())
	if err := sess.Start(in.shell() + " -s"); err != nil {
		return 0, fmt.Errorf("unable to start %s on %s: %w", in.shell(), in.Host, err)
	}
	scanDone := make(chan struct{})
	go func() { defer close(scanDone); scan.read(scrubReader(h.Scrub, pr)) }()
	waitErr := make(chan error, 1)
	go func() { err := sess.Wait(); pw.Close(); waitErr <- err }()
	var runErr error
	select {
	case runErr = <-waitErr:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		client.Close()
		<-waitErr
		<-scanDone
		return 0, fmt.Errorf("stopped `%s` on %s: %w", oneLine(in.Command), in.Host, ctx.Err())
	}
	<-scanDone
	var exitErr *ssh.ExitError
	switch {
	case runErr == nil:
		return 0, nil
	case errors.As(runErr, &exitErr):
		return exitErr.ExitStatus(), nil
	}
	return 0, fmt.Errorf("lost the session to %s while `%s` ran (%v); it is marked repeatable, so the next try runs it again",
		in.Host, oneLine(in.Command), runErr)
}

func (h *Host) openLog(ctx context.Context) (string, *os.File, error) {
	if h.Artifacts == nil {
		f, err := os.CreateTemp("", "upgrader-step-*.log")
		if err != nil {
			return "", nil, err
		}
		return f.Name(), f, nil
	}
	dir, err := h.Artifacts.RunDir(ctx)
	if err != nil {
		return "", nil, err
	}
	p := filepath.Join(dir, "logs", safePath(StepName(ctx))+".log")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("unable to open the step log %s: %w", p, err)
	}
	fmt.Fprintf(f, "---- %s try %d\n", time.Now().UTC().Format(time.RFC3339), activity.GetInfo(ctx).Attempt)
	return p, f, nil
}
