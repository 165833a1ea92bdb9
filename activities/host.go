package activities

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alessio/shellescape"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"upgrader/config"
	"upgrader/internal/contract"
)

// Error types of host steps, for the operator and for workflows to branch on.
const (
	ErrHostKeyUnknown   = "HostKeyUnknown"   // the host's key is in no known_hosts: verify it, then add it
	ErrHostKeyChanged   = "HostKeyChanged"   // the host's key differs from known_hosts: possible attack
	ErrHostAuthFailed   = "HostAuthFailed"   // the key was refused
	ErrCommandFailed    = "CommandFailed"    // unexpected exit code
	ErrFailurePattern   = "FailurePattern"   // output matched a failure pattern
	ErrSuccessMissing   = "SuccessMissing"   // output lacked a success pattern
	ErrChecksumMismatch = "ChecksumMismatch" // a file is not the one the guide names
)

// SSHTarget is one host of the inventory, as a step's input carries it:
// the address and user, and only the name of the secret holding the key.
type SSHTarget struct {
	Name    string `json:"name"`    // inventory name, for messages
	Address string `json:"address"` // host:port
	User    string `json:"user"`
	KeyRef  string `json:"keyRef"` // secret holding the private key (PEM)
	// HostKey pins the host's public key ("ssh-ed25519 AAAA…"); empty uses
	// the worker's known_hosts files.
	HostKey string `json:"hostKey,omitempty"`
}

// TargetFor builds a step's SSH target from an inventory host.
func TargetFor(inv config.Inventory, name string) (SSHTarget, error) {
	h, ok := inv[name]
	if !ok {
		return SSHTarget{}, fmt.Errorf("no host %q in the inventory", name)
	}
	return SSHTarget{Name: name, Address: h.Address, User: h.User, KeyRef: h.KeyRef, HostKey: h.HostKey}, nil
}

// String names the host for messages: name (user@address).
func (t SSHTarget) String() string {
	if t.Name != "" && t.Name != t.Address {
		return t.Name + " (" + t.User + "@" + t.Address + ")"
	}
	return t.User + "@" + t.Address
}

// Host runs commands on hosts over SSH. Host keys are always verified: an
// unknown key is an error that says how to check and add it, never a
// silent trust-on-first-use.
type Host struct {
	Secrets   Secrets
	Scrub     Scrubber
	Artifacts *Artifacts
	// KnownHostsFiles are OpenSSH known_hosts files.
	KnownHostsFiles []string
	DialTimeout     time.Duration
	// HeartbeatEvery paces heartbeats while a command runs.
	HeartbeatEvery time.Duration
}

func (h *Host) scrub(s string) string {
	if h.Scrub == nil {
		return s
	}
	return h.Scrub.Scrub(s)
}

// Dial opens an SSH connection to the target.
func (h *Host) Dial(ctx context.Context, t SSHTarget) (*ssh.Client, error) {
	if t.Address == "" || t.User == "" || t.KeyRef == "" {
		return nil, invalid("host %q needs an address, a user and a keyRef", t.Name)
	}
	addr := t.Address
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	pemKey, err := resolveSecret(h.Secrets, t.KeyRef)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey([]byte(pemKey))
	if err != nil {
		return nil, invalid("secret %q is not a usable private key for %s (an unencrypted OpenSSH or PEM key is needed)", t.KeyRef, t)
	}
	hostKeys, err := h.hostKeyCallback(t)
	if err != nil {
		return nil, err
	}
	timeout := h.DialTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	cfg := &ssh.ClientConfig{User: t.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys, Timeout: timeout}
	conn, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("unable to reach %s: %w; check the address and that sshd runs", t, err)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		var kerr *knownhosts.KeyError
		var perr *pinnedKeyError
		switch {
		case errors.As(err, &kerr) && len(kerr.Want) == 0:
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"the host key of %s is not in known_hosts (%s); verify its fingerprint with the host's owner, then add it: "+
					"ssh-keyscan -p %s %s >> %s", t, strings.Join(h.KnownHostsFiles, ", "), portOf(addr), hostOf(addr), firstOr(h.KnownHostsFiles, "~/.ssh/known_hosts")),
				ErrHostKeyUnknown, nil)
		case errors.As(err, &kerr):
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"the host key of %s does NOT match known_hosts (%s:%d): it may have been reinstalled, or someone may be "+
					"intercepting the connection; stop and check with the host's owner before changing known_hosts",
				t, kerr.Want[0].Filename, kerr.Want[0].Line), ErrHostKeyChanged, nil)
		case errors.As(err, &perr):
			return nil, temporal.NewNonRetryableApplicationError(perr.Error(), ErrHostKeyChanged, nil)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s refused the key in secret %q: add its public key to %s's authorized_keys", t, t.KeyRef, t.User),
				ErrHostAuthFailed, nil)
		}
		return nil, fmt.Errorf("unable to open an SSH session to %s: %w", t, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

type pinnedKeyError struct{ target, got, want string }

func (e *pinnedKeyError) Error() string {
	return fmt.Sprintf("the host key of %s is %s, not the pinned %s: stop and check with the host's owner", e.target, e.got, e.want)
}

func (h *Host) hostKeyCallback(t SSHTarget) (ssh.HostKeyCallback, error) {
	if t.HostKey != "" {
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(t.HostKey))
		if err != nil {
			return nil, invalid("hostKey of %s is not an OpenSSH public key: %v", t, err)
		}
		return func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if !bytes.Equal(got.Marshal(), want.Marshal()) {
				return &pinnedKeyError{target: t.String(), got: ssh.FingerprintSHA256(got), want: ssh.FingerprintSHA256(want)}
			}
			return nil
		}, nil
	}
	var files []string
	for _, f := range h.KnownHostsFiles {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"no known_hosts file to verify %s against (looked at %s); create one with ssh-keyscan after checking the fingerprint, or pin hostKey in the inventory",
			t, strings.Join(h.KnownHostsFiles, ", ")), ErrHostKeyUnknown, nil)
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("unable to read known_hosts: %w", err)
	}
	return cb, nil
}

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

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
}

// HostCommandResult is what history keeps of a command: the exit code and a
// short, scrubbed tail. The whole output is in the step's log file.
type HostCommandResult struct {
	contract.Outcome
	ExitCode int      `json:"exitCode"`
	Lines    int      `json:"lines"`
	Tail     []string `json:"tail"`
	LogPath  string   `json:"logPath"`
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

// script builds the text the remote shell reads from stdin.
func (in HostCommandInput) script(secrets map[string]string) (string, error) {
	var b strings.Builder
	// One stream, in the order the command wrote it.
	b.WriteString("exec 2>&1\n")
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
	if in.Dir != "" {
		b.WriteString("cd " + shellescape.Quote(in.Dir) + " || exit 97\n")
	}
	b.WriteString(in.Command)
	if len(in.Args) > 0 {
		b.WriteString(" " + QuoteArgs(in.Args))
	}
	b.WriteString("\n")
	return b.String(), nil
}

type commandProgress struct {
	Lines int    `json:"lines"`
	Last  string `json:"last"`
}

// Run runs a command on a host, streams its output to the step's log file,
// heartbeats progress, and judges it by exit code and output patterns.
func (h *Host) Run(ctx context.Context, in HostCommandInput) (HostCommandResult, error) {
	if strings.TrimSpace(in.Command) == "" {
		return HostCommandResult{}, invalid("no command to run on %s", in.Host)
	}
	success, failure, ignore, err := compileAll(in.Success, in.Failure, in.Ignore)
	if err != nil {
		return HostCommandResult{}, err
	}
	secrets := map[string]string{}
	for k, ref := range in.SecretEnv {
		v, err := resolveSecret(h.Secrets, ref)
		if err != nil {
			return HostCommandResult{}, err
		}
		secrets[k] = v
	}
	script, err := in.script(secrets)
	if err != nil {
		return HostCommandResult{}, err
	}
	client, err := h.Dial(ctx, in.Host)
	if err != nil {
		return HostCommandResult{}, err
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return HostCommandResult{}, fmt.Errorf("unable to open a session on %s: %w", in.Host, err)
	}
	defer sess.Close()

	logPath, logFile, err := h.openLog(ctx)
	if err != nil {
		return HostCommandResult{}, err
	}
	defer logFile.Close()

	pr, pw := io.Pipe()
	sess.Stdout, sess.Stderr = pw, pw
	sess.Stdin = strings.NewReader(script)
	shell := in.Shell
	if shell == "" {
		shell = "sh"
	}
	if err := sess.Start(shell + " -s"); err != nil {
		return HostCommandResult{}, fmt.Errorf("unable to start %s on %s: %w", shell, in.Host, err)
	}
	waitErr := make(chan error, 1)
	go func() { err := sess.Wait(); pw.Close(); waitErr <- err }()

	var (
		mu        sync.Mutex
		prog      commandProgress
		tail      []string
		seen      = make([]bool, len(success))
		failLines []string
	)
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := h.scrub(sc.Text())
			fmt.Fprintln(logFile, line)
			mu.Lock()
			prog.Lines++
			prog.Last = line
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			for i, re := range success {
				if re.MatchString(line) {
					seen[i] = true
				}
			}
			if !matchesAny(ignore, line) && matchesAny(failure, line) && len(failLines) < 10 {
				failLines = append(failLines, line)
			}
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()

	every := h.HeartbeatEvery
	if every == 0 {
		every = 2 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var runErr error
wait:
	for {
		select {
		case runErr = <-waitErr:
			break wait
		case <-tick.C:
			mu.Lock()
			p := prog
			mu.Unlock()
			activity.RecordHeartbeat(ctx, p)
		case <-ctx.Done():
			_ = sess.Signal(ssh.SIGKILL)
			client.Close()
			return HostCommandResult{}, ctx.Err()
		}
	}
	<-scanDone

	code := 0
	var exitErr *ssh.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &exitErr):
		code = exitErr.ExitStatus()
	default:
		return HostCommandResult{}, fmt.Errorf("lost the session to %s while the command ran (%v); it may or may not have finished: check %s", in.Host, runErr, logPath)
	}
	res := HostCommandResult{ExitCode: code, Lines: prog.Lines, Tail: tail, LogPath: logPath}
	last := strings.Join(lastN(tail, 5), " | ")
	expect := in.ExpectExit
	if len(expect) == 0 {
		expect = []int{0}
	}
	if !containsInt(expect, code) {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"`%s` on %s exited %d (expected %v); last output: %s; full log: %s",
			oneLine(in.Command), in.Host, code, expect, last, logPath), ErrCommandFailed, nil, res)
	}
	if len(failLines) > 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"`%s` on %s printed failure lines: %s; full log: %s", oneLine(in.Command), in.Host,
			strings.Join(failLines, " | "), logPath), ErrFailurePattern, nil, res)
	}
	for i, ok := range seen {
		if !ok {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"`%s` on %s did not print %q; last output: %s; full log: %s", oneLine(in.Command), in.Host,
				in.Success[i], last, logPath), ErrSuccessMissing, nil, res)
		}
	}
	res.Summary = fmt.Sprintf("exit %d on %s, %d lines", code, in.Host, prog.Lines)
	if len(tail) > 0 {
		res.Summary += ": " + tail[len(tail)-1]
	}
	return res, nil
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

func compileAll(lists ...[]string) (success, failure, ignore []*regexp.Regexp, err error) {
	out := make([][]*regexp.Regexp, len(lists))
	for i, l := range lists {
		for _, p := range l {
			re, e := regexp.Compile(p)
			if e != nil {
				return nil, nil, nil, invalid("pattern %q is not a valid regular expression: %v", p, e)
			}
			out[i] = append(out[i], re)
		}
	}
	return out[0], out[1], out[2], nil
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// UploadInput writes a file on a host: a generated docker-compose file, a
// script. With Template set, Content is a Go text/template rendered on the
// worker with Vars and a `secret "name"` function, so the workflow input
// holds the template and the secret names, never the values.
type UploadInput struct {
	Host     SSHTarget         `json:"host"`
	Path     string            `json:"path"`
	Content  string            `json:"content"`
	Template bool              `json:"template,omitempty"`
	Vars     map[string]string `json:"vars,omitempty"`
	// Mode is the file mode; zero means 0600.
	Mode uint32 `json:"mode,omitempty"`
}

// UploadResult names what was written and its checksum.
type UploadResult struct {
	contract.Outcome
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

// Upload writes the file atomically (temp file, then rename) and checks
// the host's SHA-256 of the result against what was sent.
func (h *Host) Upload(ctx context.Context, in UploadInput) (UploadResult, error) {
	if !path.IsAbs(in.Path) {
		return UploadResult{}, invalid("upload path %q must be absolute", in.Path)
	}
	data := []byte(in.Content)
	if in.Template {
		rendered, err := h.render(in)
		if err != nil {
			return UploadResult{}, err
		}
		data = rendered
	}
	mode := in.Mode
	if mode == 0 {
		mode = 0o600
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	tmp := in.Path + ".upgrader-tmp"
	cmd := fmt.Sprintf("umask 077 && mkdir -p %s && cat > %s && chmod %s %s && mv -f %s %s && sha256sum %s",
		shellescape.Quote(path.Dir(in.Path)), shellescape.Quote(tmp), strconv.FormatUint(uint64(mode), 8),
		shellescape.Quote(tmp), shellescape.Quote(tmp), shellescape.Quote(in.Path), shellescape.Quote(in.Path))
	client, err := h.Dial(ctx, in.Host)
	if err != nil {
		return UploadResult{}, err
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return UploadResult{}, fmt.Errorf("unable to open a session on %s: %w", in.Host, err)
	}
	defer sess.Close()
	sess.Stdin = bytes.NewReader(data)
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		return UploadResult{}, fmt.Errorf("unable to write %s on %s: %v: %s", in.Path, in.Host, err, h.scrub(strings.TrimSpace(string(out))))
	}
	got := strings.Fields(string(out))
	if len(got) == 0 || got[0] != want {
		return UploadResult{}, temporal.NewApplicationError(fmt.Sprintf("%s on %s has sha256 %v after upload, expected %s", in.Path, in.Host, got, want), ErrChecksumMismatch)
	}
	return UploadResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("wrote %s on %s (%d bytes, sha256 %s…)", in.Path, in.Host, len(data), want[:12])},
		SHA256: want, Bytes: len(data)}, nil
}

func (h *Host) render(in UploadInput) ([]byte, error) {
	return renderWithSecrets(in.Path, in.Content, in.Vars, h.Secrets)
}

// ChecksumInput checks a file's digest, on a host or (Host nil) on the worker.
type ChecksumInput struct {
	Host      *SSHTarget `json:"host,omitempty"`
	Path      string     `json:"path"`
	Algorithm string     `json:"algorithm"` // md5 or sha256
	Expect    string     `json:"expect"`
}

// ChecksumResult is the digest found.
type ChecksumResult struct {
	contract.Outcome
	Digest string `json:"digest"`
}

// Checksum computes the digest and compares it with Expect (case-insensitive):
// the guide's "MD5: 4213478c…" check of a downloaded package.
func (h *Host) Checksum(ctx context.Context, in ChecksumInput) (ChecksumResult, error) {
	var newHash func() hash.Hash
	var tool string
	switch strings.ToLower(in.Algorithm) {
	case "md5":
		newHash, tool = md5.New, "md5sum"
	case "sha256", "":
		newHash, tool = sha256.New, "sha256sum"
	default:
		return ChecksumResult{}, invalid("checksum algorithm %q: use md5 or sha256", in.Algorithm)
	}
	var digest, where string
	if in.Host == nil {
		f, err := os.Open(in.Path)
		if err != nil {
			return ChecksumResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("cannot read %s on the worker: %v", in.Path, err), contract.ErrPrecondition, nil)
		}
		defer f.Close()
		hs := newHash()
		if _, err := io.Copy(hs, f); err != nil {
			return ChecksumResult{}, fmt.Errorf("unable to read %s: %w", in.Path, err)
		}
		digest, where = hex.EncodeToString(hs.Sum(nil)), "the worker"
	} else {
		res, err := h.Run(ctx, HostCommandInput{Host: *in.Host, Command: tool + " --", Args: []string{in.Path}})
		if err != nil {
			return ChecksumResult{}, err
		}
		if len(res.Tail) == 0 {
			return ChecksumResult{}, fmt.Errorf("%s printed nothing for %s on %s", tool, in.Path, in.Host)
		}
		digest, where = strings.Fields(res.Tail[len(res.Tail)-1])[0], in.Host.String()
	}
	if in.Expect != "" && !strings.EqualFold(digest, in.Expect) {
		return ChecksumResult{Digest: digest}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s of %s on %s is %s, the guide says %s: the file is damaged or not the right release; fetch it again",
			strings.ToUpper(in.Algorithm), in.Path, where, digest, in.Expect), ErrChecksumMismatch, nil)
	}
	return ChecksumResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%s %s of %s on %s", in.Algorithm, digest, in.Path, where)}, Digest: digest}, nil
}
