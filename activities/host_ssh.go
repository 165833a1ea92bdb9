package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"upgrader/config"
)

// defaultDialTimeout bounds the TCP connect and the SSH handshake when the
// Host sets no DialTimeout.
const defaultDialTimeout = 15 * time.Second

// Dial opens an SSH connection to the target. The TCP connect and the SSH
// handshake (key exchange, host key check, authentication) are each bounded
// by DialTimeout, and the client offers only the host key algorithms of the
// keys it knows for that host, so a server holding several host keys shows
// the one known_hosts (or the pinned hostKey) can check.
func (h *Host) Dial(ctx context.Context, t SSHTarget) (*ssh.Client, error) {
	return h.dialSeeing(ctx, t, nil)
}

// dialSeeing is Dial that also reports, in seen, the host key it verified.
func (h *Host) dialSeeing(ctx context.Context, t SSHTarget, seen *ssh.PublicKey) (*ssh.Client, error) {
	if t.Address == "" || t.User == "" || t.KeyRef == "" {
		return nil, invalid("host %q needs an address, a user and a keyRef", t.Name)
	}
	addr := t.Address
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	pemKey, err := resolveSecretFor(h.Secrets, t.KeyRef, config.SecretUse{Kind: config.UseSSHKey})
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
	if timeout <= 0 {
		timeout = defaultDialTimeout
	}
	conn, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stopped connecting to %s: %w", t, ctx.Err())
		}
		return nil, fmt.Errorf("unable to reach %s: %w; check the address and that sshd runs", t, err)
	}
	algos, err := h.hostKeyAlgorithms(t, addr, conn.RemoteAddr())
	if err != nil {
		conn.Close()
		return nil, err
	}
	if seen != nil {
		check := hostKeys
		hostKeys = func(host string, remote net.Addr, key ssh.PublicKey) error {
			err := check(host, remote, key)
			if err == nil {
				*seen = key
			}
			return err
		}
	}
	cfg := &ssh.ClientConfig{User: t.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys, HostKeyAlgorithms: algos, Timeout: timeout}

	// The handshake has its own deadline: a listener that accepts and never
	// speaks (a stuck sshd, a load balancer with no backend, another service
	// on port 22) would otherwise hold the step until its start-to-close
	// timeout. Cancelling ctx closes the connection too.
	_ = conn.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stopped := !stop()
	if err != nil {
		conn.Close()
		return nil, h.dialError(ctx, t, addr, timeout, stopped, err)
	}
	_ = conn.SetDeadline(time.Time{})
	if stopped {
		c.Close()
		return nil, fmt.Errorf("stopped connecting to %s: %w", t, ctx.Err())
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// dialError turns a failed handshake into a message that says what to do.
func (h *Host) dialError(ctx context.Context, t SSHTarget, addr string, timeout time.Duration, stopped bool, err error) error {
	var kerr *knownhosts.KeyError
	var perr *pinnedKeyError
	var nerr net.Error
	switch {
	case stopped:
		return fmt.Errorf("stopped the SSH handshake with %s: %w", t, ctx.Err())
	case errors.As(err, &kerr) && len(kerr.Want) == 0:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the host key of %s is not in known_hosts (%s); verify its fingerprint with the host's owner, then add it: "+
				"ssh-keyscan -p %s %s >> %s", t, strings.Join(h.KnownHostsFiles, ", "), portOf(addr), hostOf(addr), firstOr(h.KnownHostsFiles, "~/.ssh/known_hosts")),
			ErrHostKeyUnknown, nil)
	case errors.As(err, &kerr):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the host key of %s does NOT match known_hosts (%s:%d): it may have been reinstalled, or someone may be "+
				"intercepting the connection; stop and check with the host's owner before changing known_hosts",
			t, kerr.Want[0].Filename, kerr.Want[0].Line), ErrHostKeyChanged, nil)
	case errors.As(err, &perr):
		return temporal.NewNonRetryableApplicationError(perr.Error(), ErrHostKeyChanged, nil)
	case strings.Contains(err.Error(), "unable to authenticate"):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s refused the key in secret %q: add its public key to %s's authorized_keys", t, t.KeyRef, t.User),
			ErrHostAuthFailed, nil)
	case errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Errorf("%s accepted the TCP connection but gave no SSH answer within %s: check that %s is an SSH "+
			"server (not another service or a load balancer without backends), that sshd is not stuck or at its "+
			"MaxStartups limit, and that no firewall drops the traffic", t, timeout, addr)
	}
	return fmt.Errorf("unable to open an SSH session to %s: %w; check that sshd runs there and its log", t, err)
}

type pinnedKeyError struct{ target, got, want string }

func (e *pinnedKeyError) Error() string {
	return fmt.Sprintf("the host key of %s is %s, not the pinned %s: stop and check with the host's owner", e.target, e.got, e.want)
}

func (h *Host) hostKeyCallback(t SSHTarget) (ssh.HostKeyCallback, error) {
	if t.HostKey != "" {
		want, err := pinnedKey(t)
		if err != nil {
			return nil, err
		}
		return func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if !bytes.Equal(got.Marshal(), want.Marshal()) {
				return &pinnedKeyError{target: t.String(), got: ssh.FingerprintSHA256(got), want: ssh.FingerprintSHA256(want)}
			}
			return nil
		}, nil
	}
	files := h.knownHostsFiles()
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

func pinnedKey(t SSHTarget) (ssh.PublicKey, error) {
	want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(t.HostKey))
	if err != nil {
		return nil, invalid("hostKey of %s is not an OpenSSH public key: %v", t, err)
	}
	return want, nil
}

func (h *Host) knownHostsFiles() []string {
	var files []string
	for _, f := range h.KnownHostsFiles {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	return files
}

// hostKeyAlgorithms lists the host key algorithms the client offers: only
// those of the keys known for this host. Left to itself the client prefers
// ECDSA over ed25519, so a server holding both keys shows its ECDSA key and
// a known_hosts holding only the ed25519 line reads as "host key changed".
// Nil (the library's defaults) when no key is known: the handshake then
// fails with the "not in known_hosts" message.
func (h *Host) hostKeyAlgorithms(t SSHTarget, addr string, remote net.Addr) ([]string, error) {
	var types []string
	if t.HostKey != "" {
		k, err := pinnedKey(t)
		if err != nil {
			return nil, err
		}
		types = []string{k.Type()}
	} else {
		files := h.knownHostsFiles()
		if len(files) == 0 {
			return nil, nil
		}
		cb, err := knownhosts.New(files...)
		if err != nil {
			return nil, fmt.Errorf("unable to read known_hosts: %w", err)
		}
		// Asking with a key no line can match makes knownhosts list every
		// key it holds for the host.
		var kerr *knownhosts.KeyError
		if err := cb(addr, remote, probeKey{}); errors.As(err, &kerr) {
			for _, k := range kerr.Want {
				types = append(types, k.Key.Type())
			}
		}
	}
	return algorithmsFor(types), nil
}

// algorithmsFor maps key types to the signature algorithms that prove them,
// in a stable order; an RSA key is offered with SHA-2 first.
func algorithmsFor(types []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(types)
	for _, t := range types {
		switch t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
		case ssh.CertAlgoRSAv01:
			add(ssh.CertAlgoRSASHA512v01)
			add(ssh.CertAlgoRSASHA256v01)
			add(ssh.CertAlgoRSAv01)
		default:
			add(t)
		}
	}
	return out
}

// probeKey is a public key no known_hosts line holds.
type probeKey struct{}

func (probeKey) Type() string                        { return "upgrader-probe" }
func (probeKey) Marshal() []byte                     { return []byte("upgrader-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// waitSession waits for a started session's command. When ctx ends first it
// kills the remote command, closes the connection (so nothing of it is left
// behind a lost try) and returns ctx's error as stopped; otherwise err is
// the command's own (an *ssh.ExitError for a non-zero exit).
func waitSession(ctx context.Context, client *ssh.Client, sess *ssh.Session) (err, stopped error) {
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
		return err, nil
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		client.Close()
		<-done
		return nil, ctx.Err()
	}
}
