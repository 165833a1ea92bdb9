package lab

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// logBuffer is a goroutine-safe buffer for a server's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n bytes written.
func (b *logBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// startProc starts bin in the lab: at Stop it gets SIGTERM, then SIGKILL
// after grace, and its log tail is printed if the lab failed.
func (l *Lab) startProc(bin string, args []string, grace time.Duration) (*exec.Cmd, *logBuffer, error) {
	return l.startProcAs(bin, args, grace, nil)
}

// startProcAs is startProc running bin as another user (cred), or as us (nil).
func (l *Lab) startProcAs(bin string, args []string, grace time.Duration, cred *syscall.Credential) (*exec.Cmd, *logBuffer, error) {
	log := &logBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// The servers die with the process that started them (a SIGKILLed
	// demo or test leaves no etcd behind).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("unable to start %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	l.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(grace):
			_ = cmd.Process.Kill()
			<-done
		}
		if l.failed() {
			l.logf("%s log (tail):\n%s", filepath.Base(bin), log.tail(4000))
		}
	})
	return cmd, log, nil
}
