package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/ssh"
)

// stream runs command on the host and copies its standard output to w: a
// backup read back from the host that holds it (cat of a dump, tar of a
// mongodump folder), for a restore drill on the worker. When ctx ends the
// remote process gets SIGKILL and the connection is closed. The caller
// heartbeats around it.
func (h *Host) stream(ctx context.Context, target SSHTarget, command string, w io.Writer) error {
	client, err := h.Dial(ctx, target)
	if err != nil {
		return err
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("unable to open a session on %s: %w", target, err)
	}
	defer sess.Close()
	var stderr lockedBuffer
	sess.Stdout, sess.Stderr = w, &stderr
	if err := sess.Start(command); err != nil {
		return fmt.Errorf("unable to start %q on %s: %w", command, target, err)
	}
	err, stopped := waitSession(ctx, client, sess)
	if stopped != nil {
		return fmt.Errorf("stopped reading from %s: %w", target, stopped)
	}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		return fmt.Errorf("%q exited %d on %s: %s", command, exitErr.ExitStatus(), target, captureTail(h.scrub(strings.TrimSpace(stderr.String())), 5))
	default:
		return fmt.Errorf("lost the session to %s while reading: %w", target, err)
	}
}
