package lab

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Docker is a Docker Engine the lab started: its own data root, exec root,
// socket and pidfile, so it touches nothing of another engine's.
type Docker struct {
	// Host is DOCKER_HOST for clients (unix:///…/docker.sock).
	Host string
	// Subnet is the address pool its networks come from.
	Subnet string
}

// StartDockerd starts dockerd as root without systemd: vfs storage (works
// in any container), no iptables (published ports go through the userland
// proxy), no default bridge, and networks from a /24 pool of its own, so
// two labs' engines never share a bridge or a subnet.
func StartDockerd(l *Lab) (*Docker, error) {
	if err := need("dockerd", "docker", "docker-compose"); err != nil {
		return nil, fmt.Errorf("%w (apt-get install docker.io docker-compose; scripts/install-test-deps.sh does)", err)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("dockerd needs root")
	}
	// The data root lives under /tmp/upgrader-docker-*, not in the lab
	// folder: vfs layers are big and a short socket path is needed.
	dir, err := os.MkdirTemp("", "upgrader-docker-")
	if err != nil {
		return nil, err
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(200))
	subnet := fmt.Sprintf("10.215.%d.0/24", n.Int64()+20)
	// Registered first, so it runs last: after dockerd has stopped.
	l.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	d := &Docker{Host: "unix://" + sock, Subnet: subnet}
	cmd, log, err := l.startProc("dockerd", []string{"--iptables=false", "--ip-masq=false", "--ip-forward=false", "--storage-driver=vfs",
		"--bridge=none", "--default-address-pool", "base=" + subnet + ",size=28",
		"--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", d.Host, "--pidfile", filepath.Join(dir, "docker.pid")}, 20*time.Second)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err := d.Command(context.Background(), "version", "--format", "{{.Server.Version}}").CombinedOutput(); err == nil {
			_ = out
			break
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			return nil, fmt.Errorf("dockerd did not answer in 30s:\n%s", log.tail(4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Its containers go before dockerd stops (cleanups run in reverse).
	l.Cleanup(func() {
		ids, _ := d.Command(context.Background(), "ps", "-aq").Output()
		if f := strings.Fields(string(ids)); len(f) > 0 {
			_ = d.Command(context.Background(), append([]string{"rm", "-f"}, f...)...).Run()
		}
	})
	return d, nil
}

// Command is the docker CLI pointed at this engine.
func (d *Docker) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
	return cmd
}

// Output runs the docker CLI and returns its output, or an error holding it.
func (d *Docker) Output(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := d.Command(ctx, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
