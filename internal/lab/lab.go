// Package lab starts real servers on loopback for tests and for `starter
// demo`: MariaDB and OpenSSH's sshd from Debian's packages, FerretDB, and a
// Kubernetes control plane (kube-apiserver, kube-controller-manager and a pod
// simulator playing the kubelet) built by scripts/build-tools.sh.
//
// Every constructor returns an error instead of failing a test, so a binary
// can use it; tests use the thin wrappers in upgrader/tests/lab. Servers
// belong to a Lab, which gives them folders and stops them in reverse order.
package lab

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Lab owns the servers started in it: each gets a fresh folder under Dir,
// and Stop stops them all, the last started first.
type Lab struct {
	// Dir holds every server's folder.
	Dir string
	// Logf receives background problems (a simulator's failed sync) and,
	// when Failed says so, the servers' logs at Stop. Nil discards them.
	Logf func(format string, args ...any)
	// Failed, when set and true at Stop, makes Stop print each server's
	// log tail through Logf: the evidence a failed test needs.
	Failed func() bool

	mu       sync.Mutex
	cleanups []func()
	n        int
}

// New returns a Lab whose servers keep their folders under dir.
func New(dir string) *Lab { return &Lab{Dir: dir} }

// TempDir makes a fresh folder for one server.
func (l *Lab) TempDir() (string, error) {
	l.mu.Lock()
	l.n++
	p := filepath.Join(l.Dir, fmt.Sprint(l.n))
	l.mu.Unlock()
	_ = os.RemoveAll(p)
	if err := os.MkdirAll(p, 0o700); err != nil {
		return "", fmt.Errorf("unable to make a lab folder: %w", err)
	}
	return p, nil
}

// Cleanup registers f to run at Stop.
func (l *Lab) Cleanup(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cleanups = append(l.cleanups, f)
}

// Stop runs every cleanup, the last registered first. It is safe to call
// more than once.
func (l *Lab) Stop() {
	for {
		l.mu.Lock()
		n := len(l.cleanups)
		if n == 0 {
			l.mu.Unlock()
			return
		}
		f := l.cleanups[n-1]
		l.cleanups = l.cleanups[:n-1]
		l.mu.Unlock()
		f()
	}
}

func (l *Lab) logf(format string, args ...any) {
	if l.Logf != nil {
		l.Logf(format, args...)
	}
}

func (l *Lab) failed() bool { return l.Failed != nil && l.Failed() }

// FreePort returns a loopback port nobody listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("unable to find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func need(bins ...string) error {
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s is not installed; run .ci/run once, or apt-get install mariadb-server openssh-server etcd-server", b)
		}
	}
	return nil
}

// ErrToolMissing says a tool scripts/build-tools.sh builds is not built yet.
var ErrToolMissing = errors.New("tool not built")

// ToolBin finds a tool scripts/build-tools.sh built into the cache.
func ToolBin(name, version string) (string, error) {
	cache := os.Getenv("UPGRADER_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "upgrader")
	}
	p := filepath.Join(cache, "bin", name+"-"+version)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not built (%w); run scripts/build-tools.sh %s", p, ErrToolMissing, name)
	}
	return p, nil
}
