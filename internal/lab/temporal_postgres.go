package lab

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// Postgres is a PostgreSQL server from Debian's packages (apt postgresql),
// started by the lab without systemd in its own data folder, trusting
// loopback connections as its superuser postgres.
type Postgres struct {
	Addr    string // host:port
	User    string
	DataDir string
}

// postgresBin finds Debian's server binaries (/usr/lib/postgresql/N/bin,
// which Debian keeps off PATH), newest version first.
func postgresBin(name string) (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if p := filepath.Join(d, name); fileExists(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("PostgreSQL's %s is not installed; run scripts/install-test-deps.sh (apt postgresql)", name)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// StartPostgres initialises a fresh cluster and starts postgres on a free
// loopback port. PostgreSQL refuses to run as root, so under root the
// server runs as Debian's postgres user in a folder it owns.
func StartPostgres(l *Lab) (*Postgres, error) {
	initdb, err := postgresBin("initdb")
	if err != nil {
		return nil, err
	}
	server, err := postgresBin("postgres")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running PostgreSQL as root needs the postgres user (apt postgresql creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// A folder of its own outside the lab's (whose parents only root may
	// enter), removed at Stop.
	dir, err := os.MkdirTemp("", "upgrader-pg-")
	if err != nil {
		return nil, err
	}
	l.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	p := &Postgres{User: "postgres", DataDir: filepath.Join(dir, "data")}
	sock := filepath.Join(dir, "sock")
	for _, d := range []string{p.DataDir, sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	cmd := exec.Command(initdb, "-D", p.DataDir, "-U", p.User, "--auth=trust", "-E", "UTF8", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// postgres stops cleanly ("smart" shutdown) on TERM.
	_, log, err := l.startProcAs(server, []string{"-D", p.DataDir, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "shared_buffers=64MB"}, 15*time.Second, cred)
	if err != nil {
		return nil, err
	}
	if err := waitListening(p.Addr, 30*time.Second); err != nil {
		return nil, fmt.Errorf("postgres did not listen in 30s: %w\n%s", err, log.tail(4000))
	}
	return p, nil
}

// DSN is a libpq URL for database db as the superuser.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", p.User, p.Addr, db)
}
