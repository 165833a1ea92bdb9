// Package lab starts real servers for tests on loopback: MariaDB and
// OpenSSH's sshd from Debian's packages (.ci/run installs them). Each server
// lives in a temporary folder and is stopped when the test ends.
package lab

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the driver under test
	"golang.org/x/crypto/ssh"
)

// TB is what the helpers need of a test or benchmark.
type TB interface {
	Helper()
	Fatalf(string, ...any)
	Cleanup(func())
	TempDir() string
	Logf(string, ...any)
	Failed() bool
}

var _ TB = (*testing.T)(nil)

// FreePort returns a loopback port nobody listens on now.
func FreePort(t TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func need(t TB, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed; run .ci/run once, or apt-get install mariadb-server openssh-server", b)
		}
	}
}

// MariaDB is a running server.
type MariaDB struct {
	Addr         string // 127.0.0.1:port
	Socket       string
	RootPassword string
	DataDir      string
}

// DSN returns a go-sql-driver DSN over TCP.
func (m *MariaDB) DSN(user, password, db string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?timeout=5s", user, password, m.Addr, db)
}

// StartMariaDB starts mariadbd with binary logging on a free port and gives
// root a password for TCP logins.
func StartMariaDB(t TB) *MariaDB {
	t.Helper()
	need(t, "mariadbd", "mariadb-install-db")
	dir := t.TempDir()
	m := &MariaDB{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "mysqld.sock"), RootPassword: "lab-Root-pw-4471"}
	port := FreePort(t)
	m.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	// Each server keeps its temporary files in its own folder: labs run in
	// parallel processes, and a shared /tmp lost an install's temp table.
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatalf("%v", err)
	}
	out, err := exec.Command("mariadb-install-db", "--no-defaults", "--user=root", "--datadir="+m.DataDir, "--tmpdir="+tmp,
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	var log bytes.Buffer
	cmd := exec.Command("mariadbd", "--no-defaults", "--user=root", "--datadir="+m.DataDir, "--tmpdir="+tmp,
		"--port="+strconv.Itoa(port), "--bind-address=127.0.0.1", "--socket="+m.Socket,
		"--log-bin="+filepath.Join(dir, "binlog"), "--server-id=1", "--skip-name-resolve",
		"--pid-file="+filepath.Join(dir, "mysqld.pid"), "--innodb-buffer-pool-size=32M")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("mariadbd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // mariadbd shuts down cleanly on TERM
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("mariadbd log:\n%s", log.String())
		}
	})
	db, err := sql.Open("mysql", "root@unix("+m.Socket+")/")
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for db.Ping() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd did not answer in 30s:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
		"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '" + m.RootPassword + "'",
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return m
}

// SSHD is a running OpenSSH server that accepts one client key for root.
type SSHD struct {
	Addr          string // 127.0.0.1:port
	User          string
	ClientKeyPEM  string // the client's private key, as a secret holds it
	KnownHostLine string // "[127.0.0.1]:port ssh-ed25519 AAAA…"
	HostKey       ssh.PublicKey
}

// StartSSHD starts sshd -D on a free loopback port with fresh host and
// client keys.
func StartSSHD(t TB) *SSHD {
	t.Helper()
	need(t, "/usr/sbin/sshd", "ssh-keygen")
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("%v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "lab client")
	if err != nil {
		t.Fatalf("%v", err)
	}
	clientPub, _ := ssh.NewPublicKey(pub)
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatalf("%v", err)
	}
	port := FreePort(t)
	cfg := filepath.Join(dir, "sshd_config")
	user := os.Getenv("USER")
	if user == "" {
		user = "root"
	}
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
AcceptEnv LANG
Subsystem sftp internal-sftp
`, port, hostKey, authKeys, filepath.Join(dir, "sshd.pid"))), 0o600); err != nil {
		t.Fatalf("%v", err)
	}
	_ = os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	var log bytes.Buffer
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", log.String())
		}
	})
	hostPubBytes, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatalf("%v", err)
	}
	hk, _, _, _, err := ssh.ParseAuthorizedKey(hostPubBytes)
	if err != nil {
		t.Fatalf("%v", err)
	}
	s := &SSHD{
		Addr:          fmt.Sprintf("127.0.0.1:%d", port),
		User:          user,
		ClientKeyPEM:  string(pem.EncodeToMemory(block)),
		KnownHostLine: fmt.Sprintf("[127.0.0.1]:%d %s", port, strings.TrimSpace(string(hostPubBytes))),
		HostKey:       hk,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
		if err == nil {
			c.Close()
			return s
		}
		if ctx.Err() != nil {
			t.Fatalf("sshd did not listen in 10s:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ToolBin finds a tool scripts/build-tools.sh built into the cache.
func ToolBin(t TB, name, version string) string {
	t.Helper()
	cache := os.Getenv("UPGRADER_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "upgrader")
	}
	p := filepath.Join(cache, "bin", name+"-"+version)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not built; run scripts/build-tools.sh %s", p, name)
	}
	return p
}

// Mongo is a running MongoDB wire-protocol server (FerretDB on SQLite): it
// answers ping, buildInfo, listDatabases, inserts and queries, but has no
// replica set, oplog, transactions or users.
type Mongo struct {
	Addr string
}

// StartFerretDB starts FerretDB on a free loopback port.
func StartFerretDB(t TB) *Mongo {
	t.Helper()
	bin := ToolBin(t, "ferretdb", "v1.24.0")
	dir := t.TempDir()
	port := FreePort(t)
	m := &Mongo{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	var log bytes.Buffer
	cmd := exec.Command(bin, "-listen-addr", m.Addr, "-sqlite-url", "file:"+dir+"/")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("ferretdb: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ferretdb log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.Addr, time.Second)
		if err == nil {
			c.Close()
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("ferretdb did not listen in 15s:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
