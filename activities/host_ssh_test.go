package activities_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"upgrader/activities"
)

// The lab sshd holds an ed25519 and an ECDSA host key, as a stock OpenSSH
// install does. A client left to its default order asks for ECDSA first, so
// a known_hosts holding only the ed25519 line would read as "host key
// changed"; the client must ask only for the key types it knows.
func TestHostKeyAlgorithmsFollowTheKnownKeys(t *testing.T) {
	f := newHostFixture(t)
	require.Len(t, f.sshd.KnownHostLines, 2, "the lab sshd holds two host keys")
	for _, line := range f.sshd.KnownHostLines {
		keyType := strings.Fields(line)[1]
		t.Run("known_hosts holds only "+keyType, func(t *testing.T) {
			known := filepath.Join(t.TempDir(), "known_hosts")
			require.NoError(t, os.WriteFile(known, []byte(line+"\n"), 0o600))
			f.host.KnownHostsFiles = []string{known}
			defer func() { f.host.KnownHostsFiles = []string{f.known} }()
			_, err := f.run(t, activities.HostCommandInput{Command: "true", Repeatable: true})
			require.NoError(t, err)
		})
		t.Run("pinned "+keyType, func(t *testing.T) {
			target := f.target
			target.HostKey = strings.SplitN(line, " ", 2)[1]
			_, err := f.run(t, activities.HostCommandInput{Host: target, Command: "true", Repeatable: true})
			require.NoError(t, err)
		})
	}
}

// A host that accepts the TCP connection and never speaks SSH (a stuck
// sshd, a load balancer without backends) fails within the dial timeout,
// with a message that names the host and what to check; it is worth
// retrying.
func TestHostSSHHandshakeHasADeadline(t *testing.T) {
	f := newHostFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	f.host.DialTimeout = time.Second
	target := f.target
	target.Address = l.Addr().String()
	start := time.Now()
	_, err = f.run(t, activities.HostCommandInput{Host: target, Command: "true"})
	t.Logf("failed after %s: %v", time.Since(start).Round(10*time.Millisecond), err)
	require.Error(t, err)
	require.Contains(t, err.Error(), "mysql-1")
	require.Contains(t, err.Error(), "gave no SSH answer within 1s")
	require.Contains(t, err.Error(), "check that "+target.Address+" is an SSH server")
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		require.False(t, app.NonRetryable(), "a silent host may come back: worth retrying")
	}
}
