package lab

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TemporalServerVersion is the server scripts/build-tools.sh builds
// (temporal-server) with its schema tool (temporal-sql-tool): the one
// docker-compose.yml pins and the pinned CLI embeds.
const TemporalServerVersion = "v1.29.1"

// TemporalServices are the services of a production-shaped cluster, in the
// order a rolling restart takes them.
var TemporalServices = []string{"frontend", "history", "matching", "worker"}

// TemporalCluster is the real Temporal server run the way a production
// cluster runs it: on PostgreSQL (schema set up by the server's own
// temporal-sql-tool), with 4 history shards, and frontend, history,
// matching and worker each a process of its own that can be restarted
// alone (a rolling restart, as a Temporal upgrade does).
type TemporalCluster struct {
	// Frontend is the gRPC address clients and workers dial.
	Frontend string
	// Shards is numHistoryShards (fixed for the cluster's life).
	Shards int

	l     *Lab
	bin   string
	root  string
	procs map[string]*clusterProc
}

type clusterProc struct {
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{}
	// port is where the service is ready: the frontend's gRPC port (what
	// clients dial); for the others their membership port (the worker
	// service serves no gRPC, and a ring member is useful once it gossips).
	port int
}

// StartTemporalCluster sets up the two databases (temporal, temporal_visibility)
// on pg, writes the server's config and starts every service. dynamic are
// dynamic-config keys with one value each (the dev server's, for
// comparable figures).
func StartTemporalCluster(l *Lab, pg *Postgres, dynamic map[string]any) (*TemporalCluster, error) {
	bin, err := ToolBin("temporal-server", TemporalServerVersion)
	if err != nil {
		return nil, err
	}
	sqlTool, err := ToolBin("temporal-sql-tool", TemporalServerVersion)
	if err != nil {
		return nil, err
	}
	root, err := l.TempDir()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(pg.Addr)
	for _, db := range []struct{ name, schema string }{
		{"temporal", "postgresql/v12/temporal"},
		{"temporal_visibility", "postgresql/v12/visibility"},
	} {
		base := []string{"--plugin", "postgres12", "--ep", host, "-p", port, "-u", pg.User, "--db", db.name}
		for _, args := range [][]string{
			append(base, "create-database"),
			append(base, "setup-schema", "-v", "0.0"),
			append(base, "update-schema", "--schema-name", db.schema),
		} {
			if out, err := exec.Command(sqlTool, args...).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("temporal-sql-tool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
	// Below 32768: the SQL schema keeps a member's port in a smallint
	// (cluster_membership.rpc_port), so an ephemeral port such as 38887 is
	// refused and the service never joins the ring.
	ports, err := lowFreePorts(2 * len(TemporalServices))
	if err != nil {
		return nil, err
	}
	c := &TemporalCluster{Shards: 4, l: l, bin: bin, root: root, procs: map[string]*clusterProc{}}
	var services strings.Builder
	for i, s := range TemporalServices {
		fmt.Fprintf(&services, "  %s:\n    rpc:\n      grpcPort: %d\n      membershipPort: %d\n      bindOnLocalHost: true\n", s, ports[2*i], ports[2*i+1])
		c.procs[s] = &clusterProc{port: ports[2*i+1]}
		if s == "frontend" {
			c.procs[s].port = ports[2*i]
		}
	}
	c.Frontend = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	store := func(db string, conns int) string {
		return fmt.Sprintf(`      sql:
        pluginName: postgres12
        databaseName: %s
        connectAddr: %q
        connectProtocol: tcp
        user: %s
        password: ""
        maxConns: %d
        maxIdleConns: %d
        maxConnLifetime: 1h
`, db, pg.Addr, pg.User, conns, conns)
	}
	// The shape of the server's own config/development-postgres12.yaml
	// (go.temporal.io/server v1.29.1), with ports of our own and no metrics
	// or pprof listeners (four processes would fight over one port).
	cfg := fmt.Sprintf(`log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: %d
  datastores:
    default:
%s    visibility:
%sglobal:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:
%sclusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: %q
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: %q
  pollInterval: 10s
`, c.Shards, store("temporal", 20), store("temporal_visibility", 4), services.String(), c.Frontend,
		filepath.Join(root, "config", "dynamicconfig.yaml"))
	var dc strings.Builder
	for k, v := range dynamic {
		fmt.Fprintf(&dc, "%s:\n  - value: %v\n", k, v)
	}
	if err := os.MkdirAll(filepath.Join(root, "config"), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "config", "production.yaml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "config", "dynamicconfig.yaml"), []byte(dc.String()), 0o600); err != nil {
		return nil, err
	}
	for _, s := range TemporalServices {
		if err := c.start(s); err != nil {
			return nil, err
		}
	}
	l.Cleanup(func() {
		for i := len(TemporalServices) - 1; i >= 0; i-- {
			_ = c.Stop(TemporalServices[i])
		}
	})
	return c, nil
}

func (c *TemporalCluster) start(service string) error {
	p := c.procs[service]
	p.log = &logBuffer{}
	p.cmd = exec.Command(c.bin, "--root", c.root, "--config", "config", "--env", "production", "--allow-no-auth",
		"start", "--service", service)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("unable to start Temporal %s: %w", service, err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.done)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	if err := waitListening(addr, 90*time.Second); err != nil {
		return fmt.Errorf("temporal %s did not listen on %s: %w\n%s", service, addr, err, p.log.tail(4000))
	}
	return nil
}

// Stop stops one service gracefully (SIGTERM; SIGKILL after 30 s).
func (c *TemporalCluster) Stop(service string) error {
	p := c.procs[service]
	if p.cmd == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if c.l.failed() {
		c.l.logf("temporal %s log (tail):\n%s", service, p.log.tail(3000))
	}
	return nil
}

// Restart stops one service gracefully and starts it again, as a rolling
// upgrade does; it returns once the new process listens.
func (c *TemporalCluster) Restart(ctx context.Context, service string) error {
	if err := c.Stop(service); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.start(service)
}

// Log is the tail of one service's log.
func (c *TemporalCluster) Log(service string) string { return c.procs[service].log.tail(4000) }

// lowFreePorts returns n distinct loopback ports below 32768 that nobody
// listens on now.
func lowFreePorts(n int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for tries := 0; len(out) < n && tries < 1000; tries++ {
		p := 20000 + rand.IntN(12000)
		if seen[p] {
			continue
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ln.Close()
		out = append(out, p)
	}
	if len(out) < n {
		return nil, fmt.Errorf("no %d free loopback ports below 32768", n)
	}
	return out, nil
}
