package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	labsrv "upgrader/tests/lab"
	"upgrader/workflows/runbook"
)

// wecubeLab is the WeCube lab (two MariaDB servers, a Docker Engine with
// the guide's four images built from the stand-in, HOSTIP on lo) plus the
// host the guide's commands run on (sshd) and a worker config.
type wecubeLab struct {
	root, workerCfg, artifacts string
	site                       *labsrv.WeCubeSite
	sshd                       *labsrv.SSHD
}

const wecubeS3Secret = "lab-S3-secret-6614"

func newWeCubeLab(t *testing.T) *wecubeLab {
	t.Helper()
	return newWeCubeLabOn(t, server.FrontendHostPort())
}

// newWeCubeLabOn is newWeCubeLab for workers of the Temporal at address.
func newWeCubeLabOn(t testing.TB, address string) *wecubeLab {
	t.Helper()
	l := &wecubeLab{root: t.TempDir()}
	l.site = labsrv.StartWeCubeSite(t, "v4.0.0")
	l.sshd = labsrv.StartSSHD(t)
	l.artifacts = filepath.Join(l.root, "artifacts")
	known := writeFile(t, filepath.Join(l.root, "known_hosts"), strings.Join(l.sshd.KnownHostLines, "\n")+"\n")
	l.workerCfg = writeFile(t, filepath.Join(l.root, "worker.yaml"), fmt.Sprintf(`
temporal:
  address: %s
artifactDir: %s
ssh:
  knownHostsFiles: [%s]
trustedHosts: [%s]   # the portal on HOSTIP is plain http://, as the guide installs it
secrets:
  wecube-host-key: {value: %q}
  wecube-jwt-signing-key: {value: %q}
  wecube-mysql-wecube-password: {value: %q}
  wecube-mysql-auth-password: {value: %q}
  wecube-s3-access: {value: lab-access}
  wecube-s3-secret: {value: %q}
  wecube-host-password: {value: lab-Host-pw-1190}
  wecube-admin-password: {value: %q}
`, address, l.artifacts, known, l.site.HostIP, l.sshd.ClientKeyPEM, l.site.JWTSigningKey, l.site.CorePassword, l.site.AuthPassword,
		wecubeS3Secret, l.site.AdminPassword))
	return l
}

func (l *wecubeLab) config(t testing.TB, env, mode string, extra string) string {
	return writeFile(t, filepath.Join(l.root, env+".yaml"), fmt.Sprintf(`
environment: %s
from: "v3.2.6"
to: "v4.0.0"
mode: %s
host: {address: %s, user: %s, keyRef: wecube-host-key}
hostIP: %s
dockerHost: %s
deployRoot: %s
wecubeVersion: v4.0.0
logLevel: info
privateKey: {file: key.pem}
jwtSigningKeyRef: wecube-jwt-signing-key
mysql:
  wecube: {address: %s, user: %s, passwordRef: wecube-mysql-wecube-password}
  auth: {address: %s, user: %s, passwordRef: wecube-mysql-auth-password}
s3: {address: "%s:9000", accessKeyRef: wecube-s3-access, secretKeyRef: wecube-s3-secret}
staticResource: {username: root, passwordRef: wecube-host-password}
ddl:
  auth: {path: %s, sha256: %s}
  wecube: {path: %s, sha256: %s}
login: {username: %s, passwordRef: wecube-admin-password}
waits: {timeout: 90s, stableFor: 2s, interval: 500ms, failAfterRestarts: 2}
%s`, env, mode, l.sshd.Addr, l.sshd.User, l.site.HostIP, l.site.Docker.Host, l.site.DeployRoot,
		l.site.CoreDB.Addr, l.site.CoreUser, l.site.AuthDB.Addr, l.site.AuthUser, l.site.HostIP,
		l.site.DDLAuth, l.site.DDLAuthSum, l.site.DDLCore, l.site.DDLCoreSum, l.site.AdminUser, extra))
}

func (l *wecubeLab) db(t testing.TB, m *labsrv.MariaDB, name string) *sql.DB {
	t.Helper()
	db, err := m.Root(name)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(q, args...).Scan(&n), q)
	return n
}

// The containers run in the guide's order, each on its port on HOSTIP.
func (l *wecubeLab) requireContainersUp(t *testing.T) {
	t.Helper()
	lines, err := l.site.Containers()
	require.NoError(t, err)
	require.Len(t, lines, 4, "one container per compose file: %v", lines)
	for _, want := range []struct {
		name string
		port int
	}{{"platform-auth-server-v4.0.0", 8002}, {"platform-core-v4.0.0", 8000}, {"platform-gateway-v4.0.0", 8005}, {"wecube-portal-v4.0.0", 8080}} {
		found := false
		for _, line := range lines {
			if strings.HasPrefix(line, want.name+" running ") {
				require.Contains(t, line, fmt.Sprintf("%s:%d->", l.site.HostIP, want.port))
				found = true
			}
		}
		require.True(t, found, "%s running on %d: %v", want.name, want.port, lines)
	}
	// Started in order: each one's start time after the one before.
	out, err := l.site.Docker.Output("inspect", "-f", "{{.State.StartedAt}}", "platform-auth-server-v4.0.0", "platform-core-v4.0.0",
		"platform-gateway-v4.0.0", "wecube-portal-v4.0.0")
	require.NoError(t, err)
	var prev time.Time
	for _, s := range strings.Fields(out) {
		ts, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		require.True(t, ts.After(prev), "containers started out of order: %s", out)
		prev = ts
	}
}

// The DDL ran once: every table and column it adds is there.
func (l *wecubeLab) requireSchemaUpgraded(t *testing.T) {
	t.Helper()
	auth := l.db(t, l.site.AuthDB, "auth_server")
	core := l.db(t, l.site.CoreDB, "wecube")
	require.Equal(t, 1, count(t, auth, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='auth_server' AND TABLE_NAME='auth_sys_role' AND COLUMN_NAME='administrator'"))
	require.Equal(t, 1, count(t, auth, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='auth_server' AND TABLE_NAME='auth_sys_role_apply'"))
	require.Equal(t, 27, count(t, core, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='wecube' AND TABLE_NAME NOT IN "+
		"('system_variables','plugin_packages','plugin_instances','plugin_package_data_model','plugin_package_attributes')"))
	require.Equal(t, 1, count(t, core, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='wecube' AND TABLE_NAME='batch_execution_template' AND COLUMN_NAME='publish_status'"))
}

// operateWeCube answers the run as the operators would: each plugin's
// re-registration gate by a Signal (the person who re-registered it, as
// `temporal workflow signal` would send it), every other gate through the
// starter. It returns the last status and the plugin steps answered.
func operateWeCube(t *testing.T, l *wecubeLab, id string, onRunning map[string]func()) (runbook.RunStatus, []string) {
	t.Helper()
	signalled := map[string]bool{}
	var st runbook.RunStatus
	for deadline := time.Now().Add(6 * time.Minute); ; {
		require.True(t, time.Now().Before(deadline), "%s did not finish: %+v", id, st)
		st = status(t, id)
		if st.State == runbook.RunCompleted || st.State == runbook.RunFailedAwaiting || st.State == runbook.RunAborted || st.State == runbook.RunRejected {
			break
		}
		for _, s := range st.Steps {
			switch {
			case s.State == runbook.StepRunning && onRunning[s.Name] != nil:
				f := onRunning[s.Name]
				delete(onRunning, s.Name)
				f()
			case s.State == runbook.StepWaitingApproval && strings.HasPrefix(s.Name, "reregister-plugin/"):
				if !signalled[s.Name] {
					signalled[s.Name] = true
					require.NoError(t, temporalClient().SignalWorkflow(context.Background(), id, "", runbook.SignalApprove,
						runbook.Approval{Step: s.Name, By: "plugin-admin", Comment: "插件配置 → 确定 → 重注册插件包 done, its UI loads"}))
				}
			case s.State == runbook.StepWaitingApproval:
				mustStarter(t, l.workerCfg, "approve", id, s.Name, "--comment", "checked in the lab")
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	var plugins []string
	for _, s := range st.Steps {
		if strings.HasPrefix(s.Name, "reregister-plugin/") && s.State == runbook.StepDone {
			plugins = append(plugins, s.Name)
			require.NotNil(t, s.Approval, s.Name)
			require.Equal(t, "plugin-admin", s.Approval.By, "who re-registered %s", s.Name)
			require.False(t, s.Approval.At.IsZero(), "when %s was re-registered", s.Name)
		}
	}
	return st, plugins
}

// wecubeChaosSite is the WeCube site (replace mode, an old WeCube's
// container to stop) for the kill sweep. Its facts: each database server's
// writes (the DDL, the system variables, the plugin rows) and the
// containers by name and state.
func wecubeChaosSite(t testing.TB, address, env string) chaosSite {
	l := newWeCubeLabOn(t, address)
	labsrv.Must(t, l.site.StartOldContainer("wecube-portal-v3", "v4.0.0"))
	cfg := l.config(t, env, "replace", "replace: {oldContainers: [wecube-portal-v3]}\n")
	return chaosSite{workerCfg: l.workerCfg, runCfg: cfg, workerEnv: []string{"USER=tester"}, facts: func(t testing.TB) map[string]int {
		facts := map[string]int{}
		for name, m := range map[string]*labsrv.MariaDB{"auth": l.site.AuthDB, "core": l.site.CoreDB} {
			for k, v := range sqlWrites(t, l.db(t, m, "")) {
				facts[name+" "+k] = v
			}
		}
		lines, err := l.site.Containers()
		require.NoError(t, err)
		for _, line := range lines {
			f := strings.Fields(line)
			facts["container "+strings.Join(f[:min(2, len(f))], " ")]++
		}
		return facts
	}}
}

func (l *wecubeLab) requireNoSecretLeaked(t *testing.T, id string, w *workerProc) {
	t.Helper()
	assertNoSecrets(t, id, l.artifacts, 20, l.site.CorePassword, l.site.AuthPassword, l.site.AdminPassword, wecubeS3Secret, "lab-Host-pw-1190")
}

func TestWeCube400CoexistOnTheLab(t *testing.T) {
	l := newWeCubeLab(t)
	cfg := l.config(t, "coexist", "coexist", "sharedPluginInstances: true\n")
	id := runbook.WorkflowID("wecube-4.0.0", "coexist")
	w := startWorker(t, l.workerCfg, "USER=tester")
	mustStarter(t, l.workerCfg, "start", "wecube-4.0.0", "-c", cfg)

	st, plugins := operateWeCube(t, l, id, nil)
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	require.Equal(t, []string{"reregister-plugin/monitor", "reregister-plugin/wecmdb"}, plugins, "one step per running plugin")
	l.requireContainersUp(t)
	l.requireSchemaUpgraded(t)

	core := l.db(t, l.site.CoreDB, "wecube")
	require.Equal(t, 1, count(t, core, "SELECT COUNT(*) FROM system_variables WHERE name='GATEWAY_URL_NEW' AND status='active' AND value=?",
		"http://"+l.site.HostIP+":8005"))
	l.requireNoSecretLeaked(t, id, w)
}

// Replace mode: a person approves the guide's warning first, the old
// WeCube stops only after the new one answers; the worker is killed while
// core's `docker-compose up -d` runs, and the run completes with one
// container per compose file.
func TestWeCube400ReplaceWithWorkerKilledAtCoreUp(t *testing.T) {
	l := newWeCubeLab(t)
	labsrv.Must(t, l.site.StartOldContainer("wecube-portal-v3", "v4.0.0"))
	cfg := l.config(t, "replace", "replace", "replace: {oldContainers: [wecube-portal-v3]}\n")
	id := runbook.WorkflowID("wecube-4.0.0", "replace")
	w := startWorker(t, l.workerCfg, "USER=tester")
	mustStarter(t, l.workerCfg, "start", "wecube-4.0.0", "-c", cfg)

	var w2 *workerProc
	st, plugins := operateWeCube(t, l, id, map[string]func(){
		"up/core": func() {
			w.kill(t)
			w2 = startWorker(t, l.workerCfg, "USER=tester")
		},
	})
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	require.NotNil(t, w2, "the worker was killed during up/core")
	require.Len(t, plugins, 2)
	for _, s := range st.Steps {
		switch s.Name {
		case "approve/replace-mode":
			require.NotNil(t, s.Approval)
		case "up/core":
			require.Contains(t, s.Result, "platform-core-v4.0.0")
		case "set-system-variable/gateway-url-new":
			t.Fatalf("replace mode sets no GATEWAY_URL_NEW")
		}
	}
	// The old WeCube's container is stopped, kept; the new ones run, once each.
	lines, err := l.site.Containers()
	require.NoError(t, err)
	require.Len(t, lines, 5, "%v", lines)
	found := false
	for _, line := range lines {
		if strings.HasPrefix(line, "wecube-portal-v3 ") {
			require.Contains(t, line, "exited")
			found = true
		}
	}
	require.True(t, found, "%v", lines)
	out, err := l.site.Docker.Output("ps", "--filter", "name=platform-core", "-aq")
	require.NoError(t, err)
	require.Len(t, strings.Fields(out), 1, "one core container, not a second from a repeated up -d")
	l.requireSchemaUpgraded(t)
	l.requireNoSecretLeaked(t, id, w2)
	require.NotContains(t, w.log.String(), l.site.CorePassword)
	recordHistory(t, id, "wecube-4.0.0-history.json")
}

// core's database account refuses the containers (its password differs
// from the one the upgrade was given): wait-up/core stops with core's last
// log lines; once the DBA fixed the account, `decide retry` completes.
func TestWeCube400WrongCorePasswordPausesWithTheLogAndRetryCompletes(t *testing.T) {
	l := newWeCubeLab(t)
	labsrv.Must(t, l.site.SplitCoreAccount("lab-Other-db-pw-0042"))
	cfg := l.config(t, "badpw", "coexist", "")
	id := runbook.WorkflowID("wecube-4.0.0", "badpw")
	w := startWorker(t, l.workerCfg, "USER=tester")
	mustStarter(t, l.workerCfg, "start", "wecube-4.0.0", "-c", cfg)

	st := operate(t, l.workerCfg, id, 4*time.Minute, nil)
	require.Equal(t, runbook.RunFailedAwaiting, st.State)
	var wait runbook.StepStatus
	for _, s := range st.Steps {
		if s.Name == "wait-up/core" {
			wait = s
		}
	}
	require.Equal(t, runbook.StepFailedAwaiting, wait.State, "%+v", st)
	require.Contains(t, wait.LastError, "Init db connection error")
	require.Contains(t, wait.LastError, "Access denied for user 'wecube_core'")
	require.Contains(t, wait.LastError, "ContainerRestarting")
	out := mustStarter(t, l.workerCfg, "status", id)
	require.Contains(t, out, "Access denied")

	labsrv.Must(t, l.site.FixCoreAccount())
	mustStarter(t, l.workerCfg, "decide", id, "wait-up/core", "retry", "--comment", "DBA reset the wecube_core@% password")
	st, plugins := operateWeCube(t, l, id, nil)
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	require.Len(t, plugins, 2)
	l.requireContainersUp(t)
	l.requireNoSecretLeaked(t, id, w)
	require.NotContains(t, w.log.String(), "lab-Other-db-pw-0042")
}
