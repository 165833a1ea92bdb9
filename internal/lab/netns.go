package lab

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// NetnsHost is a test host in a network namespace this lab created, joined
// to the machine by a veth pair with a /30 of its own. Pods placed on it get
// an address the API server will proxy to (it refuses loopback ones).
// Traffic stays on this machine: to the namespace this run made.
type NetnsHost struct {
	Name string
	IP   string // the host's address inside the namespace
}

var netnsSeq atomic.Int32

// ErrNeedRoot says an operation needs root (CI and the lab machines run as root).
var ErrNeedRoot = errors.New("network namespaces need root (CI runs as root)")

// NewNetnsHost creates the namespace and the veth pair; the lab removes
// both at Stop. It needs root.
func NewNetnsHost(l *Lab) (*NetnsHost, error) {
	if unix.Geteuid() != 0 {
		return nil, ErrNeedRoot
	}
	n := int(netnsSeq.Add(1))
	subnet := (unix.Getpid()%60)*4 + n // a distinct /30 per process and host
	name := fmt.Sprintf("upg%d-%d", unix.Getpid(), n)
	hostIP, nsIP := fmt.Sprintf("10.213.%d.1", subnet%250), fmt.Sprintf("10.213.%d.2", subnet%250)
	outer, inner := fmt.Sprintf("uh%d%d", unix.Getpid()%100000, n), fmt.Sprintf("un%d%d", unix.Getpid()%100000, n)
	run := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("netns", "add", name); err != nil {
		return nil, err
	}
	l.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	if err := run("link", "add", outer, "type", "veth", "peer", "name", inner); err != nil {
		return nil, err
	}
	l.Cleanup(func() { _ = exec.Command("ip", "link", "del", outer).Run() })
	for _, args := range [][]string{
		{"link", "set", inner, "netns", name},
		{"addr", "add", hostIP + "/30", "dev", outer},
		{"link", "set", outer, "up"},
		{"netns", "exec", name, "ip", "addr", "add", nsIP + "/30", "dev", inner},
		{"netns", "exec", name, "ip", "link", "set", inner, "up"},
		{"netns", "exec", name, "ip", "link", "set", "lo", "up"},
	} {
		if err := run(args...); err != nil {
			return nil, err
		}
	}
	return &NetnsHost{Name: name, IP: nsIP}, nil
}

// Listen opens a TCP listener on the host's address inside its namespace:
// the socket is created on a thread switched into the namespace, then the
// thread switches back; accepting works from any thread.
func (h *NetnsHost) Listen(port int) (net.Listener, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(orig)
	target, err := unix.Open("/var/run/netns/"+h.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("setns %s: %w", h.Name, err)
	}
	l, lerr := net.Listen("tcp", fmt.Sprintf("%s:%d", h.IP, port))
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		panic("cannot return to the original network namespace: " + err.Error())
	}
	return l, lerr
}
