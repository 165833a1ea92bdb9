package lab

import (
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
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // the driver the lab's MariaDB is reached with
	"golang.org/x/crypto/ssh"
)

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
func StartMariaDB(l *Lab) (*MariaDB, error) { return StartMariaDBAt(l, "127.0.0.1") }

// StartMariaDBAt is StartMariaDB listening on another local address (one
// that containers reach too); root may then log in over TCP from anywhere.
func StartMariaDBAt(l *Lab, bind string) (*MariaDB, error) {
	if err := need("mariadbd", "mariadb-install-db"); err != nil {
		return nil, err
	}
	dir, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	m := &MariaDB{DataDir: filepath.Join(dir, "data"), Socket: filepath.Join(dir, "mysqld.sock"), RootPassword: "lab-Root-pw-4471"}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m.Addr = net.JoinHostPort(bind, strconv.Itoa(port))
	// Each server keeps its temporary files in its own folder: labs run in
	// parallel processes, and a shared /tmp lost an install's temp table.
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	out, err := exec.Command("mariadb-install-db", "--no-defaults", "--user=root", "--datadir="+m.DataDir, "--tmpdir="+tmp,
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	// mariadbd shuts down cleanly on TERM.
	_, log, err := l.startProc("mariadbd", []string{"--no-defaults", "--user=root", "--datadir=" + m.DataDir, "--tmpdir=" + tmp,
		"--port=" + strconv.Itoa(port), "--bind-address=" + bind, "--socket=" + m.Socket,
		"--log-bin=" + filepath.Join(dir, "binlog"), "--server-id=1", "--skip-name-resolve",
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--innodb-buffer-pool-size=32M"}, 10*time.Second)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("mysql", "root@unix("+m.Socket+")/")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for db.Ping() != nil {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("mariadbd did not answer in 30s:\n%s", log.tail(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	from := "127.0.0.1"
	if bind != "127.0.0.1" {
		from = "%"
	}
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS 'root'@'" + from + "'",
		"ALTER USER 'root'@'" + from + "' IDENTIFIED BY '" + m.RootPassword + "'",
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'" + from + "' WITH GRANT OPTION",
	} {
		if _, err := db.Exec(q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return m, nil
}

// SSHD is a running OpenSSH server that accepts one client key for root.
type SSHD struct {
	Addr          string // 127.0.0.1:port
	User          string
	ClientKeyPEM  string // the client's private key, as a secret holds it
	KnownHostLine string // "[127.0.0.1]:port ssh-ed25519 AAAA…"
	HostKey       ssh.PublicKey
	// KnownHostLines holds a known_hosts line for each host key the server
	// holds: ed25519 (KnownHostLine) and ECDSA, as a stock OpenSSH install
	// has several.
	KnownHostLines []string
}

// StartSSHD starts sshd -D on a free loopback port with fresh host and
// client keys.
func StartSSHD(l *Lab) (*SSHD, error) { return StartSSHDWith(l, SSHDOptions{}) }

// SSHDOptions make one sshd a host of its own on this machine.
type SSHDOptions struct {
	// Binds are [source, target] pairs bind-mounted in a mount namespace
	// of this sshd alone (so its sessions see their own /data,
	// /usr/lib/systemd/system, …); a missing target folder is created
	// (empty) on this machine. Needs root.
	Binds [][2]string
	// SetEnv is set in every session (sshd_config SetEnv).
	SetEnv map[string]string
}

// StartSSHDWith is StartSSHD with options.
func StartSSHDWith(l *Lab, opts SSHDOptions) (*SSHD, error) {
	if err := need("/usr/sbin/sshd", "ssh-keygen"); err != nil {
		return nil, err
	}
	dir, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	hostKey := filepath.Join(dir, "host_ed25519")
	ecdsaKey := filepath.Join(dir, "host_ecdsa")
	for _, k := range [][2]string{{"ed25519", hostKey}, {"ecdsa", ecdsaKey}} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", k[0], "-N", "", "-f", k[1]).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "lab client")
	if err != nil {
		return nil, err
	}
	clientPub, _ := ssh.NewPublicKey(pub)
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "sshd_config")
	user := os.Getenv("USER")
	if user == "" {
		user = "root"
	}
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
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
`, port, hostKey, ecdsaKey, authKeys, filepath.Join(dir, "sshd.pid"))+setEnv(opts.SetEnv)), 0o600); err != nil {
		return nil, err
	}
	_ = os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	bin, args := "/usr/sbin/sshd", []string{"-D", "-e", "-f", cfg}
	if len(opts.Binds) > 0 {
		var script strings.Builder
		script.WriteString("set -e\n")
		for _, b := range opts.Binds {
			if st, err := os.Stat(b[0]); err == nil && !st.IsDir() {
				if _, err := os.Stat(b[1]); err != nil {
					return nil, fmt.Errorf("bind target %s: a file bind needs the file to exist", b[1])
				}
			} else if err := os.MkdirAll(b[1], 0o755); err != nil {
				return nil, err
			}
			fmt.Fprintf(&script, "mount --bind '%s' '%s'\n", b[0], b[1])
		}
		script.WriteString("exec /usr/sbin/sshd -D -e -f '" + cfg + "'\n")
		bin, args = "unshare", []string{"-m", "--propagation", "private", "sh", "-c", script.String()}
	}
	_, log, err := l.startProc(bin, args, 0)
	if err != nil {
		return nil, err
	}
	hostPubBytes, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, err
	}
	hk, _, _, _, err := ssh.ParseAuthorizedKey(hostPubBytes)
	if err != nil {
		return nil, err
	}
	ecdsaPub, err := os.ReadFile(ecdsaKey + ".pub")
	if err != nil {
		return nil, err
	}
	s := &SSHD{
		Addr:          fmt.Sprintf("127.0.0.1:%d", port),
		User:          user,
		ClientKeyPEM:  string(pem.EncodeToMemory(block)),
		KnownHostLine: fmt.Sprintf("[127.0.0.1]:%d %s", port, strings.TrimSpace(string(hostPubBytes))),
		HostKey:       hk,
		KnownHostLines: []string{
			fmt.Sprintf("[127.0.0.1]:%d %s", port, strings.TrimSpace(string(hostPubBytes))),
			fmt.Sprintf("[127.0.0.1]:%d %s", port, strings.TrimSpace(string(ecdsaPub))),
		},
	}
	if err := waitListening(s.Addr, 10*time.Second); err != nil {
		return nil, fmt.Errorf("sshd did not listen in 10s:\n%s", log.tail(4000))
	}
	return s, nil
}

func setEnv(env map[string]string) string {
	var b strings.Builder
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// One line: sshd takes the first SetEnv it reads and ignores the rest.
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=\"%s\"", k, env[k])
	}
	if b.Len() == 0 {
		return ""
	}
	return "SetEnv" + b.String() + "\n"
}

func waitListening(addr string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Mongo is a running MongoDB wire-protocol server (FerretDB on SQLite): it
// answers ping, buildInfo, listDatabases, inserts and queries, but has no
// replica set, oplog, transactions or users.
type Mongo struct {
	Addr string
}

// StartFerretDB starts FerretDB on a free loopback port.
func StartFerretDB(l *Lab) (*Mongo, error) {
	bin, err := ToolBin("ferretdb", "v1.24.0")
	if err != nil {
		return nil, err
	}
	dir, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &Mongo{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	_, log, err := l.startProc(bin, []string{"-listen-addr", m.Addr, "-sqlite-url", "file:" + dir + "/"}, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if err := waitListening(m.Addr, 15*time.Second); err != nil {
		return nil, fmt.Errorf("ferretdb did not listen in 15s:\n%s", log.tail(4000))
	}
	return m, nil
}
