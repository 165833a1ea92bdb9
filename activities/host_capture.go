package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/alessio/shellescape"
	"golang.org/x/crypto/ssh"

	"upgrader/config"
)

var captureEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// capture runs a short sh script on a host and returns what it printed
// (stdout and stderr in one stream), for steps that read a tool's answer
// (mysqldump --version, a dump's size and checksum). Secret values are
// resolved here and travel only in the script on the session's stdin, never
// in argv or history. When ctx ends, the remote process group gets SIGKILL
// and the connection is closed. A non-zero exit is an error holding the
// scrubbed output; the caller heartbeats around it (whileHeartbeating).
func (h *Host) capture(ctx context.Context, target SSHTarget, script string, secretEnv map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString("exec 2>&1\n")
	names := make([]string, 0, len(secretEnv))
	for k := range secretEnv {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !captureEnvName.MatchString(k) {
			return "", invalid("environment variable name %q is not valid", k)
		}
		v, err := resolveSecretFor(h.Secrets, secretEnv[k], config.SecretUse{Kind: config.UseSSHEnv})
		if err != nil {
			return "", err
		}
		b.WriteString("export " + k + "=" + shellescape.Quote(v) + "\n")
	}
	b.WriteString(script)
	b.WriteString("\n")

	client, err := h.Dial(ctx, target)
	if err != nil {
		return "", err
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("unable to open a session on %s: %w", target, err)
	}
	defer sess.Close()
	// One writer for both streams, locked: a bytes.Buffer shared by the two
	// copiers loses output (its ReadFrom truncates what the other wrote).
	out := &lockedBuffer{}
	sess.Stdout, sess.Stderr = out, out
	sess.Stdin = strings.NewReader(b.String())
	if err := sess.Start("sh -s"); err != nil {
		return "", fmt.Errorf("unable to start sh on %s: %w", target, err)
	}
	err, stopped := waitSession(ctx, client, sess)
	if stopped != nil {
		return "", fmt.Errorf("stopped the command on %s: %w", target, stopped)
	}
	text := h.scrub(out.String())
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		return text, nil
	case errors.As(err, &exitErr):
		return text, fmt.Errorf("exit %d on %s: %s", exitErr.ExitStatus(), target, captureTail(text, 10))
	default:
		return text, fmt.Errorf("lost the session to %s while the command ran: %w", target, err)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureTail keeps the last n lines of s, trimmed, for error messages.
func captureTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
