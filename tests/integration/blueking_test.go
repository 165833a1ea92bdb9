package integration_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	labsrv "upgrader/tests/lab"
	"upgrader/workflows/runbook"
)

// bkLab is the BlueKing site, its MariaDB and FerretDB, and a worker config
// holding the hosts' keys and the MySQL root password.
type bkLab struct {
	root, workerCfg, artifacts string
	site                       *labsrv.BlueKingSite
	db                         *labsrv.MariaDB
}

func newBKLab(t *testing.T) *bkLab {
	t.Helper()
	return newBKLabOn(t, server.FrontendHostPort())
}

// newBKLabOn is newBKLab for workers of the Temporal at address.
func newBKLabOn(t testing.TB, address string) *bkLab {
	t.Helper()
	l := &bkLab{root: t.TempDir()}
	l.db = labsrv.StartMariaDB(t)
	mongo := labsrv.StartFerretDB(t)
	l.site = labsrv.StartBlueKing(t, labsrv.BlueKingOptions{MariaDB: l.db, Mongo: mongo, YQ: labsrv.ToolBin(t, "yq", "v4.44.3")})
	l.artifacts = filepath.Join(l.root, "artifacts")
	var secrets strings.Builder
	for _, h := range append([]*labsrv.BlueKingHost{l.site.Control}, l.site.Hosts...) {
		fmt.Fprintf(&secrets, "  %s-key: {value: %q}\n", h.Name, h.ClientKeyPEM)
	}
	l.workerCfg = writeFile(t, filepath.Join(l.root, "worker.yaml"), fmt.Sprintf(`
temporal:
  address: %s
artifactDir: %s
secrets:
  bk-mysql-root: {value: %q}
%s`, address, l.artifacts, l.db.RootPassword, secrets.String()))
	return l
}

// config is the upgrade config of the lab's site.
func (l *bkLab) config(t testing.TB, env string) string {
	var hosts, ips strings.Builder
	for _, h := range append([]*labsrv.BlueKingHost{l.site.Control}, l.site.Hosts...) {
		key := strings.SplitN(h.KnownHostLine, " ", 2)[1]
		fmt.Fprintf(&hosts, "  %s:\n    address: %s\n    user: %s\n    keyRef: %s-key\n    hostKey: %q\n    modules: [%s]\n",
			h.Name, h.Addr, h.User, h.Name, key, `"`+strings.Join(h.Modules, `", "`)+`"`)
		fmt.Fprintf(&ips, "  %s: %s\n", h.Name, h.LanIP)
	}
	return writeFile(t, filepath.Join(l.root, env+".yaml"), fmt.Sprintf(`
guide: blueking-6.1-6.2
environment: %s
from: "6.1"
to: "6.2"
control: bk-ctl
hosts:
%slanIPs:
%spackage: {path: %s, md5: %s}
mysql: {address: %q, user: root, passwordRef: bk-mysql-root}
mongodb: {address: %q, user: "", oplog: false}   # FerretDB: no replica set, no users
iamMigrateScriptURL: %s
commandTimeout: 2m
jobUpgradeTimeout: 2m
dumpTimeout: 2m
`, env, hosts.String(), ips.String(), l.site.PackagePath, l.site.PackageMD5, l.db.Addr, l.mongoAddr(), l.site.MigrateScriptURL))
}

func (l *bkLab) mongoAddr() string { return l.site.MongoAddr }

func (l *bkLab) sql(t testing.TB) *sql.DB {
	db, err := sql.Open("mysql", l.db.DSN("root", l.db.RootPassword, ""))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// bkEnvFiles are the env files the guide appends to, with the key each append adds.
var bkEnvFiles = map[string]string{
	"bin/03-userdef/gse.env":         "BK_GSE_REDIS_PASSWORD=",
	"bin/03-userdef/job.env":         "BK_JOB_RUN_MODE=stable",
	"bin/03-userdef/cmdb.env":        "BK_GSE_AGENT_VERSION=v1",
	"bin/03-userdef/bknodeman.env":   "BK_GSE_AGENT_VERSION=v1",
	"bin/03-userdef/bkmonitorv3.env": "BK_MONITOR_RUN_MODE=stable",
	"bin/03-userdef/bklog.env":       "BK_SSM_HOST=bkssm.service.consul",
	"bin/default/bkmonitorv3.env":    "BK_SSM_HOST=\n",
	"bin/default/bklog.env":          "BK_SSM_HOST=\n",
	"bin/01-generate/dbadmin.env":    "BK_REDIS_CLUSTER_ADMIN_PASSWORD=",
}

func (l *bkLab) checkSite(t *testing.T) {
	t.Helper()
	ctl := l.site.Control
	// Each append happened once; the monitor run mode is on a line of its own.
	for f, key := range bkEnvFiles {
		b, err := ctl.File("data/install/" + f)
		require.NoError(t, err)
		require.Equal(t, 1, strings.Count(string(b), key), "%s holds %q once:\n%s", f, key, b)
	}
	mon, _ := ctl.File("data/install/bin/03-userdef/bkmonitorv3.env")
	require.Contains(t, mon, "\nBK_MONITOR_RUN_MODE=stable\n")
	gse, _ := ctl.File("data/install/bin/03-userdef/gse.env")
	require.Contains(t, gse, "BK_GSE_ZK_TOKEN=zkuser:lab-zk-token")
	require.Regexp(t, `BK_GSE_REDIS_PASSWORD=[0-9a-f]{24}\n`, gse)
	global, _ := ctl.File("data/install/bin/03-userdef/global.env")
	require.Contains(t, global, `BK_JOB_API_PUBLIC_URL="http://job.bktencent.com:80"`)
	cfg, _ := ctl.File("data/install/install.config")
	require.Contains(t, cfg, "10.0.0.3 cmdb,job,mysql,zk(config),kafka(config),appt,consul,log(api),nodeman(nodeman),log(grafana),auth,redis_cluster,etcd\n")
	// The old src is src.bak (moved once), the new one unpacked; JOB's switch off.
	v, _ := ctl.File("data/src.bak/job/VERSION")
	require.Equal(t, "3.6.4\n", v)
	v, _ = ctl.File("data/src/job/VERSION")
	require.Equal(t, "3.7.5\n", v)
	app, _ := ctl.File("data/src/job/support-files/templates/#etc#job#job-common#application.yml")
	require.Contains(t, app, "enabled: false")
	_, err := ctl.File("data/src/src/VERSION")
	require.Error(t, err, "the new src was never moved into src.bak or into itself")
	set, _ := ctl.File("data/install/bin/create_blueking_set.py")
	require.Contains(t, set, `"job": ["job-config", "job-crontab", "job-execute", "job-gateway", "job-logsvr", "job-manage", "job-backup", "job-analysis"]`)

	// Old services off and their units gone; GSE V2 running; yq on every host.
	bk1, bk2, bk3 := l.site.Hosts[0], l.site.Hosts[1], l.site.Hosts[2]
	require.NotContains(t, strings.Join(bk1.Units(), " "), "bk-gse-config.service")
	require.Contains(t, bk1.Running(), "bk-gse-task.service")
	require.NotContains(t, bk2.Units(), "bk-paas-console.service")
	require.Contains(t, bk2.Running(), "consul-template.service")
	require.NotContains(t, bk3.Units(), "bk-nodeman.service")
	for _, h := range l.site.Hosts {
		st, err := os.Stat(filepath.Join(h.Root, "localbin", "yq"))
		require.NoError(t, err, "yq on %s", h.Name)
		require.NotZero(t, st.Mode()&0o111)
	}

	// What must run once ran once.
	for key, n := range map[string]int{"upgrade-job": 1, "upgrade-cmdb": 1, "upgrade-bkiam": 1, "install-gse": 1, "iam-migrate": 1,
		"upgrader-BEFORE_UPDATE_JOB": 1, "upgrader-AFTER_UPDATE_JOB": 1, "delete-templates": 1, "initdata-topo": 1,
		"mongodump-done": 1, "cmdb-blueking-modify-true": 1, "iam-upgrade-bk-monitor": 1, "iam-upgrade-bk-log-api": 1} {
		require.Equal(t, n, l.site.Count(key), "%s ran %d times", key, l.site.Count(key))
	}

	// The IAM migration's effect, by SQL; the version table refreshed.
	db := l.sql(t)
	var groups, subjects int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM bkiam.group_system_auth_type").Scan(&groups))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM bkiam.subject_system_group").Scan(&subjects))
	require.Equal(t, 3, groups, "ops has bk_cmdb and bk_job, dev bk_cmdb")
	require.Equal(t, 4, subjects, "one row per (user, system): admin and alice each have bk_cmdb and bk_job")
	var version string
	require.NoError(t, db.QueryRow("SELECT version FROM bksuite_common.production_info WHERE code='bksuite'").Scan(&version))
	require.Equal(t, "6.2.2", version)

	// The backups: the dump on the MySQL host holds the site's databases.
	dump, err := bk3.File("data/dbbak/bk_mysql_alldata.sql")
	require.NoError(t, err)
	require.Contains(t, dump, "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `bkiam`")
	_, err = os.Stat(filepath.Join(bk2.Root, "data/mongodb_bak/cmdb/cc_HostBase.bson.gz"))
	require.NoError(t, err)
}

// bkChaosSite is the BlueKing site for the kill sweep. Its facts: how many
// times each stand-in that must run once ran (the lab's count files; a
// dump or job a killed try started again counts under *-start, not
// compared), each env file's appended keys, and MariaDB's writes.
func bkChaosSite(t testing.TB, address, env string) chaosSite {
	l := newBKLabOn(t, address)
	require.NoError(t, l.site.Delay("upgrade-job", 2))
	require.NoError(t, l.site.Delay("mongodump", 2))
	return chaosSite{workerCfg: l.workerCfg, runCfg: l.config(t, env),
		// The stand-ins behind steps declared repeatable: the CMDB unlock
		// (an upsert), the IAM migration's check, the SaaS IAM upgrades.
		repeatable: []string{"ran cmdb-blueking-modify-true", "ran iam-check", "ran iam-upgrade-bk-monitor", "ran iam-upgrade-bk-log-api"},
		facts: func(t testing.TB) map[string]int {
			facts := sqlWrites(t, l.sql(t))
			keys, _ := os.ReadDir(filepath.Join(l.site.Dir, "count"))
			for _, k := range keys {
				if !strings.HasSuffix(k.Name(), "-start") {
					facts["ran "+k.Name()] = l.site.Count(k.Name())
				}
			}
			for f, key := range bkEnvFiles {
				b, _ := l.site.Control.File("data/install/" + f)
				facts[f+" "+strings.TrimSpace(key)] = strings.Count(string(b), key)
			}
			return facts
		}, hostRoot: func(host string) string {
			for _, h := range append([]*labsrv.BlueKingHost{l.site.Control}, l.site.Hosts...) {
				if h.Name == host {
					return h.Root
				}
			}
			return ""
		}}
}

// TestBlueKing61To62EndToEndOnTheLab runs the whole guide through the
// starter, gates answered, the worker killed during `bkcli upgrade job` and
// during the mongodump: it completes, each ran once, env files appended once.
func TestBlueKing61To62EndToEndOnTheLab(t *testing.T) {
	l := newBKLab(t)
	require.NoError(t, l.site.Delay("upgrade-job", 4))
	require.NoError(t, l.site.Delay("mongodump", 4))
	cfg := l.config(t, "lab")
	id := runbook.WorkflowID("blueking-6.1-6.2", "lab")
	plan := mustStarter(t, l.workerCfg, "plan", "blueking-6.1-6.2", "-c", cfg)
	require.Contains(t, plan, "upgrade/job")

	w := startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "blueking-6.1-6.2", "-c", cfg)
	restart := func() {
		time.Sleep(time.Second)
		w.kill(t)
		w = startWorker(t, l.workerCfg)
	}
	st := operate(t, l.workerCfg, id, 6*time.Minute, map[string]func(){
		"backup/mongodb": restart,
		"upgrade/job":    restart,
	})
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)
	l.checkSite(t)
	require.Equal(t, 2, l.site.Count("mongodump-start"), "the killed try's dump was started again, not taken half-done")
	require.Contains(t, st.Step("approve/install-config").Prompt, "10.0.0.1 iam,ssm")
	require.Contains(t, st.Step("migrate/iam-subject-system-group").Prompt, "check/iam-before-migrate")
	require.Contains(t, st.Step("signal/hosts-to-idle-pool").Prompt, "cmdb")
	// Every backup records its size and SHA-256, and is proven by a restore
	// drill on the same server; the migrate gate shows what they proved.
	require.Regexp(t, `\(\d+ bytes, sha256 [0-9a-f]{64}, read-only\)`, st.Step("backup/mysql").Result)
	require.Regexp(t, `\(\d+ bytes, read-only, manifest sha256 [0-9a-f]{64}\)`, st.Step("backup/mongodb").Result)
	require.Regexp(t, `^backup verified: \d+ tables, \d+ rows, sha256 [0-9a-f]{64} \(\d+ bytes\); copied from bk-3`, st.Step("verify-restore/mysql").Result)
	require.Regexp(t, `^backup verified: 3 collections, [1-9]\d* documents, sha256 [0-9a-f]{64} \(\d+ bytes\); copied from bk-2`, st.Step("verify-restore/mongodb").Result)
	require.Contains(t, st.Step("verify-restore/mongodb").Result, "the source holds the same documents")
	require.Contains(t, st.Step("migrate/iam-subject-system-group").Prompt, "--- verify-restore/mysql (done): backup verified: ")
	require.Contains(t, st.Step("migrate/iam-subject-system-group").Prompt, "--- verify-restore/mongodb (done): backup verified: ")
	require.Empty(t, queryStrings(t, l.sql(t), "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'upgrader\\_verify\\_%'"),
		"the scratch databases are dropped")
	secrets := []string{l.db.RootPassword, "lab-paas-app-secret-7f3a", "lab-job-db", "lab-zk-token"}
	for _, h := range append(l.site.Hosts, l.site.Control) {
		secrets = append(secrets, strings.Split(h.ClientKeyPEM, "\n")[2])
	}
	assertNoSecrets(t, id, l.artifacts, 20, secrets...)
	recordHistory(t, id, "blueking-6.1-6.2-history.json")
}
