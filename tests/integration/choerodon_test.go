package integration_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"

	labsrv "upgrader/tests/lab"
	"upgrader/workflows/runbook"
)

// c7nLab is a Choerodon site in the lab: a real API server with simulated
// pods, a real MariaDB, a chart mirror of lab charts named like the real
// ones, and the worker config that reaches them.
type c7nLab struct {
	cp        *labsrv.ControlPlane
	deploys   *labsrv.DeploymentSim
	db        *labsrv.MariaDB
	charts    string
	artifacts string
	workerCfg string
	api       *apiRecorder
	root      string
	site      *labsrv.C7NSite
}

const (
	c7nDBPassword  = "c7n-Choerodon-pw-5521"
	c7nAPIToken    = "Bearer lab-admin-token-77Q"
	c7nOAuthSecret = "oauth-Client-secret-3390"
)

func newC7nLab(t testing.TB) *c7nLab {
	t.Helper()
	return newC7nLabOn(t, server.FrontendHostPort())
}

// newC7nLabOn is newC7nLab with a worker config that reaches the Temporal
// frontend at address (the kill sweep runs its own server).
func newC7nLabOn(t testing.TB, address string) *c7nLab {
	t.Helper()
	l := &c7nLab{root: t.TempDir()}
	l.cp = labsrv.StartControlPlane(t)
	sim := labsrv.StartPodSim(t, l.cp)
	l.deploys = labsrv.StartDeploymentSim(t, sim)
	l.db = labsrv.StartMariaDB(t)
	l.charts = filepath.Join(l.root, "charts")
	l.artifacts = filepath.Join(l.root, "artifacts")
	l.api = startAPIRecorder(t)
	l.site = &labsrv.C7NSite{Kubeconfig: l.cp.Kubeconfig, Charts: l.charts, ChartSrc: "../testdata/charts/c7n-service"}
	l.workerCfg = writeFile(t, filepath.Join(l.root, "worker.yaml"), fmt.Sprintf(`
temporal:
  address: %s
artifactDir: %s
clusters:
  lab:
    kubeconfig: %s
chartDirs: [%s]
trustedHosts: [127.0.0.1]   # the lab's API recorder: the admin token may go there
# Each secret bound to where it may go: a config that sends one elsewhere
# is refused before any step.
secrets:
  c7n-db-choerodon: {value: %s, uses: [helm-values, mysql]}
  c7n-db-root: {value: %s, uses: [mysql]}
  c7n-minio-access-key: {value: lab-minio-ak, uses: [helm-values]}
  c7n-minio-secret-key: {value: lab-minio-sk-8812, uses: [helm-values]}
  c7n-admin-token: {value: %q, uses: [http], hosts: [127.0.0.1]}
  c7n-oauth-client-secret: {value: %s, uses: [http], hosts: [127.0.0.1]}
`, address, l.artifacts, l.cp.Kubeconfig, l.charts, c7nDBPassword, l.db.RootPassword, c7nAPIToken, c7nOAuthSecret))
	return l
}

func (l *c7nLab) helm(t testing.TB, ns string) *action.Configuration {
	t.Helper()
	cfg, err := l.site.Helm(ns)
	require.NoError(t, err)
	return cfg
}

// revisions is how many revisions a release has (0: none).
func (l *c7nLab) revisions(t testing.TB, ns, release string) int {
	h, err := action.NewHistory(l.helm(t, ns)).Run(release)
	if err == driver.ErrReleaseNotFound {
		return 0
	}
	require.NoError(t, err)
	return len(h)
}

func (l *c7nLab) values(t testing.TB, ns, release string) map[string]any {
	v, err := action.NewGetValues(l.helm(t, ns)).Run(release)
	require.NoError(t, err)
	return v
}

func (l *c7nLab) chartVersion(t testing.TB, ns, release string) string {
	r, err := action.NewGet(l.helm(t, ns)).Run(release)
	require.NoError(t, err)
	return r.Chart.Metadata.Version
}

func (l *c7nLab) sql(t testing.TB) *sql.DB {
	db, err := sql.Open("mysql", l.db.DSN("root", l.db.RootPassword, ""))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// apiRecorder is the platform gateway's API, recording every call.
type apiRecorder struct {
	url   string
	mu    sync.Mutex
	calls []string // "METHOD path?query auth body"
	// checkLog, when set, is devops-service's database: a smooth upgrade
	// call writes its devops_check_log row there when its task ends.
	checkLog *sql.DB
}

func startAPIRecorder(t testing.TB) *apiRecorder {
	a := &apiRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.calls = append(a.calls, fmt.Sprintf("%s %s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), b))
		a.mu.Unlock()
		if r.Header.Get("Authorization") != c7nAPIToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		// The platform's gateway answers only on the services' real paths.
		switch route := r.Method + " " + r.URL.Path; route {
		case "GET /devops/v1/upgrade":
			// devops-service 0.9.3 DevopsCheckController: the task is queued;
			// the answer is the time, in epoch milliseconds, as text.
			fmt.Fprint(w, time.Now().UnixMilli())
			a.mu.Lock()
			db := a.checkLog
			a.mu.Unlock()
			if db != nil {
				go devopsUpgradeTask(db, r.URL.Query().Get("version"))
			}
		case "GET /iam/v1/organizations/1/clients":
			// iam-service 0.9's client list: a page; no client yet.
			fmt.Fprint(w, `{"totalPages":0,"totalElements":0,"numberOfElements":0,"size":10,"number":0,"content":[]}`)
		case "POST /iam/v1/organizations/1/clients":
			// ClientController.create: 200 with the created ClientDTO.
			var dto map[string]any
			_ = json.Unmarshal(b, &dto)
			dto["id"] = 7
			_ = json.NewEncoder(w).Encode(dto)
		case "POST /wiki/v1/wiki/page":
			// WikiScanningController 更新wiki系统主页: 201 Created, no body.
			w.WriteHeader(http.StatusCreated)
		default:
			// Spring Boot's error answer through the gateway.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"timestamp":%d,"status":404,"error":"Not Found","message":"No message available","path":%q}`,
				time.Now().UnixMilli(), r.URL.Path)
		}
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

// devopsUpgradeTask is devops-service 0.9.3's UpgradeTask as the lab plays
// it (app/service/impl/DevopsCheckLogServiceImpl.java): queued on a
// single-thread executor after the call answered, it works a while, then
// inserts one devops_check_log row with both dates and the log as a JSON
// list of {content, result}.
func devopsUpgradeTask(db *sql.DB, version string) {
	begin := time.Now()
	time.Sleep(1500 * time.Millisecond)
	log := `[]`
	if version == "0.9" {
		log = `[{"content":"app: lab-app create gitlab webhook","result":"success"},{"content":"app: lab-app sync branches","result":"success"}]`
	}
	_, _ = db.Exec("INSERT INTO devops_service.devops_check_log (begin_check_date, end_check_date, log) VALUES (?, ?, ?)",
		begin, time.Now(), log)
}

// devopsCheckLogTable is devops-service's table
// (src/main/resources/script/db/devops_check_log.groovy and the audit
// columns every Choerodon table has).
const devopsCheckLogTable = `CREATE TABLE IF NOT EXISTS devops_service.devops_check_log (
	id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	begin_check_date DATETIME, end_check_date DATETIME, log VARCHAR(5000),
	object_version_number BIGINT UNSIGNED NOT NULL DEFAULT 1, created_by BIGINT UNSIGNED NOT NULL DEFAULT 0,
	creation_date DATETIME DEFAULT CURRENT_TIMESTAMP, last_updated_by BIGINT UNSIGNED NOT NULL DEFAULT 0,
	last_update_date DATETIME DEFAULT CURRENT_TIMESTAMP)`

func (a *apiRecorder) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string{}, a.calls...)
}

// operate drives a run as an operator would, through the starter: it
// approves every gate and calls onRunning once for each step seen running;
// a failed step ends the drive (the caller decides). It returns the last
// status.
func operate(t testing.TB, workerCfg, id string, timeout time.Duration, onRunning map[string]func()) runbook.RunStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st := status(t, id)
		switch st.State {
		case runbook.RunCompleted, runbook.RunAborted, runbook.RunRejected, runbook.RunFailedAwaiting:
			return st
		}
		for _, s := range st.Steps {
			if s.State == runbook.StepRunning && onRunning[s.Name] != nil {
				f := onRunning[s.Name]
				delete(onRunning, s.Name)
				f()
			}
			if s.State == runbook.StepWaitingApproval {
				// Another person than the one who started the run: its
				// destructive gates refuse their starter.
				mustStarterAs(t, "reviewer", workerCfg, "approve", id, s.Name, "--comment", "checked in the lab")
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s did not finish in %s: %+v", id, timeout, status(t, id))
	return runbook.RunStatus{}
}

func c7n021Config(t testing.TB, l *c7nLab, env, ns string) string {
	return writeFile(t, filepath.Join(l.root, env+".yaml"), fmt.Sprintf(`
guide: choerodon-0.21-0.22
environment: %s
from: "0.21"
to: "0.22"
cluster: lab
namespace: %s
chartRepo: c7n
db:
  host: c7n-mysql.%s
  port: 3306
  user: choerodon
  passwordRef: c7n-db-choerodon
  admin: {address: %q, user: root, passwordRef: c7n-db-root, backup: true}
redis: {host: c7n-redis.%s, port: 6379}
eurekaURL: http://register.%s:8000/eureka/
domains: {api: api.lab.example, register: register.lab.example, notify: notify.lab.example, hzero: hzero.lab.example, front: lab.example}
minio: {endpoint: "https://minio.lab.example", accessKeyRef: c7n-minio-access-key, secretKeyRef: c7n-minio-secret-key}
api: {url: %q, tokenRef: c7n-admin-token}
probe:
  via: pod-ip
  timeout: 2m
  interval: 300ms
  logTimeout: 2m
  ports: {choerodon-front: 8080, hzero-front: 8080}
values:
  hzero-gateway:
    replicaCount: 2
gateRemindAfter: 1h
`, env, ns, ns, l.db.Addr, ns, ns, l.api.url))
}

func TestChoerodon021To022EndToEndOnTheLab(t *testing.T) {
	l := newC7nLab(t)
	ns := "c7n-system"
	require.NoError(t, l.site.PackageC7N021([]string{"迁移 emailConfig", "修复完成，正常退出"}, 8*time.Second))
	db := l.sql(t)
	require.NoError(t, l.site.SeedC7N021(ns, db, true))
	cfg := c7n021Config(t, l, "lab", ns)
	id := runbook.WorkflowID("choerodon-0.21-0.22", "lab")

	plan := mustStarter(t, l.workerCfg, "plan", "choerodon-0.21-0.22", "-c", cfg)
	require.Contains(t, plan, "delete-release/base-service")
	w := startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", cfg)

	// Nothing is deleted before the backups are done and a person says so.
	eventually(t, 2*time.Minute, "the delete gate", func() bool { return status(t, id).State == runbook.RunWaitingApproval })
	st := status(t, id)
	require.Equal(t, "approve/delete-old-releases", st.CurrentStep)
	require.Equal(t, runbook.StepDone, st.Step("backup-db/mysql").State)
	require.Contains(t, st.Step("backup-db/mysql").Result, "mysqldump's trailer")
	require.Regexp(t, `\d+ rows dumped to .* \(\d+ bytes, sha256 [0-9a-f]{64}, read-only\)`, st.Step("backup-db/mysql").Result)
	require.Equal(t, 1, l.revisions(t, ns, "base-service"))
	// The dump was restored into a scratch database, and the gate shows what that proved.
	require.Equal(t, runbook.StepDone, st.Step("verify-restore/mysql").State)
	require.Regexp(t, `--- verify-restore/mysql \(done\): backup verified: \d+ tables, \d+ rows, sha256 [0-9a-f]{64} \(\d+ bytes\); restored into upgrader_verify_`,
		st.Step("approve/delete-old-releases").Prompt)
	require.Empty(t, queryStrings(t, db, "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'upgrader\\_verify\\_%'"),
		"the scratch databases are dropped")

	// Kill the worker while it waits for hzero-iam and while it follows
	// knowledgebase's log; a new worker carries on.
	restart := func() {
		time.Sleep(time.Second)
		w.kill(t)
		w = startWorker(t, l.workerCfg)
	}
	st = operate(t, l.workerCfg, id, 6*time.Minute, map[string]func(){
		"wait-up/hzero-iam":                restart,
		"follow-log/knowledgebase-service": restart,
	})
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)

	// Old releases gone; new ones at the guide's versions, each installed or upgraded once.
	for _, r := range []string{"base-service", "api-gateway", "file-service", "manager-service", "notify-service",
		"oauth-server", "register-server", "asgard-service"} {
		require.Equal(t, 0, l.revisions(t, ns, r), "%s deleted", r)
	}
	for r, v := range map[string]string{"hzero-iam": "0.22.0", "hzero-register": "0.22.2", "hzero-front": "0.22.0", "data-migration": "0.22.0"} {
		require.Equal(t, v, l.chartVersion(t, ns, r))
		require.Equal(t, 1, l.revisions(t, ns, r), "%s installed once", r)
	}
	for r, v := range map[string]string{"agile-service": "0.21.1", "knowledgebase-service": "0.21.0", "devops-service": "0.21.6", "choerodon-front": "0.21.3"} {
		require.Equal(t, v, l.chartVersion(t, ns, r))
		require.Equal(t, 2, l.revisions(t, ns, r), "%s upgraded once", r)
	}
	require.Equal(t, 1, l.deploys.Started(ns, "hzero-iam"), "hzero-iam's pod was never replaced by a second upgrade")

	// The guide's values, templated from the config; secrets resolved on the worker.
	iam := l.values(t, ns, "hzero-iam")
	open := iam["env"].(map[string]any)["open"].(map[string]any)
	require.Equal(t, "http://api.lab.example", open["CHOERODON_GATEWAY_URL"])
	require.Equal(t, "http://hzero-register.c7n-system:8000/eureka/", open["EUREKA_CLIENT_SERVICEURL_DEFAULTZONE"], "iam registers with hzero-register, as the guide says")
	require.EqualValues(t, 1, open["SPRING_REDIS_DATABASE"])
	require.Equal(t, c7nDBPassword, open["SPRING_DATASOURCE_PASSWORD"])
	require.Equal(t, "jdbc:mysql://c7n-mysql.c7n-system:3306/hzero_platform?useUnicode=true&characterEncoding=utf-8&useSSL=false&useInformationSchema=true&remarks=true&serverTimezone=Asia/Shanghai",
		open["SPRING_DATASOURCE_URL"])
	agile := l.values(t, ns, "agile-service")
	require.Equal(t, "redis-of-0.21", agile["env"].(map[string]any)["open"].(map[string]any)["SPRING_REDIS_HOST"], "values reused")
	platform := agile["preJob"].(map[string]any)["preInitDB"].(map[string]any)["datasource"].(map[string]any)["platform"].(map[string]any)
	require.Contains(t, platform["url"], "allowMultiQueries=true")
	require.Equal(t, c7nDBPassword, platform["password"])
	require.EqualValues(t, 2, l.values(t, ns, "hzero-gateway")["replicaCount"], "the site's own values win")
	kb := l.values(t, ns, "knowledgebase-service")["preJob"].(map[string]any)["preConfig"].(map[string]any)
	require.Equal(t, "update", kb["updatePolicy"], "修改preConfig的application.yaml配置更新策略")

	// Databases, user and grants.
	var grants []string
	rows, err := db.Query("SHOW GRANTS FOR 'choerodon'@'%'")
	require.NoError(t, err)
	for rows.Next() {
		var g string
		require.NoError(t, rows.Scan(&g))
		grants = append(grants, g)
	}
	for _, d := range []string{"hzero_platform", "hzero_message", "hzero_file", "hzero_monitor", "hzero_admin"} {
		require.Contains(t, strings.Join(grants, "\n"), "`"+d+"`.*", "grant on %s", d)
	}

	// Values backups and the verified dump in the run's artifact folder.
	var backups []string
	var dump, baseValues string
	_ = filepath.Walk(l.artifacts, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(p, "/values/lab/"+ns+"/") {
			backups = append(backups, filepath.Base(p))
			if filepath.Base(p) == "base-service.yaml" {
				baseValues = p
			}
		}
		if err == nil && strings.HasSuffix(p, ".sql") {
			dump = p
		}
		return nil
	})
	require.Contains(t, backups, "base-service.yaml")
	require.Contains(t, backups, "agile-service.yaml")
	b, err := os.ReadFile(baseValues)
	require.NoError(t, err)
	require.Contains(t, string(b), "old-pw")
	sqlDump, err := os.ReadFile(dump)
	require.NoError(t, err)
	require.Contains(t, string(sqlDump), "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `base_service`")

	// devops' line came: the repair API was not called. No secret in history.
	require.Empty(t, l.api.all())
	require.Equal(t, runbook.StepSkipped, st.Step("devops-data-fix/retry").State)
	assertNoSecrets(t, id, l.artifacts, 20, c7nDBPassword, l.db.RootPassword, "lab-minio-ak", "lab-minio-sk-8812", c7nAPIToken, "lab-admin-token-77Q", c7nOAuthSecret)
	recordHistory(t, id, "choerodon-0.21-0.22-history.json")
}

func TestChoerodon021MigrationExceptionPausesAndAbortsCleanly(t *testing.T) {
	l := newC7nLab(t)
	ns := "c7n-fail"
	require.NoError(t, l.site.PackageC7N021([]string{"迁移 emailConfig", "java.lang.IllegalStateException: duplicate key in hzero_message.hmsg_email"}, 0))
	require.NoError(t, l.site.SeedC7N021(ns, l.sql(t), true)) // every release the guide upgrades: preflight/releases refuses a site without them
	cfg := c7n021Config(t, l, "fail", ns)
	id := runbook.WorkflowID("choerodon-0.21-0.22", "fail")
	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", cfg)

	st := operate(t, l.workerCfg, id, 3*time.Minute, nil)
	require.Equal(t, runbook.RunFailedAwaiting, st.State)
	require.Equal(t, "follow-log/data-migration", st.CurrentStep)
	require.Contains(t, st.Step("follow-log/data-migration").LastError, "IllegalStateException")
	require.Equal(t, runbook.StepPending, st.Step("install/hzero-register").State)
	require.Equal(t, 0, l.revisions(t, ns, "hzero-register"), "nothing after the migration ran")

	out := mustStarter(t, l.workerCfg, "status", id)
	require.Contains(t, out, "decide "+id+" follow-log/data-migration")
	// The guide says the upgrade cannot go on: a skip must acknowledge that.
	out, err := starter(t, l.workerCfg, "decide", id, "follow-log/data-migration", "skip", "--comment", "looks harmless")
	require.Error(t, err)
	require.Contains(t, out, "follow-log/data-migration is required; the guide warns: 此次升级更换底层框架")
	require.Contains(t, out, "--ack data-migration-exception")
	out, err = starter(t, l.workerCfg, "decide", id, "follow-log/data-migration", "skip")
	require.Error(t, err)
	require.Contains(t, out, "skip needs a comment", "refused by the starter before anything is sent")
	// Past the point of no return: --rollback is refused with the guide's
	// warning, by the starter before anything is sent.
	out, err = starter(t, l.workerCfg, "decide", id, "follow-log/data-migration", "abort", "--rollback", "--comment", "back to 0.21")
	require.Error(t, err)
	require.Contains(t, out, "--rollback refused, nothing sent: install/data-migration, the point of no return")
	require.Contains(t, out, "升级后可能数据库结构会发生改变，故不能进行版本回退")
	require.NotContains(t, mustStarter(t, l.workerCfg, "status", id), "--rollback")
	mustStarter(t, l.workerCfg, "decide", id, "follow-log/data-migration", "abort", "--comment", "migration failed; asking the forum")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = temporalClient().GetWorkflow(ctx, id, "").Get(ctx, nil)
	require.ErrorContains(t, err, "aborted the upgrade at step follow-log/data-migration")
	final := status(t, id)
	require.Equal(t, runbook.RunAborted, final.State)
	require.Equal(t, runbook.StepNotRunAfterAbort, final.Step("install/hzero-register").State)
	assertNoSecrets(t, id, l.artifacts, 20, c7nDBPassword, l.db.RootPassword, "lab-minio-ak", "lab-minio-sk-8812", c7nAPIToken, "lab-admin-token-77Q", c7nOAuthSecret)
}

// c7n08Release is a release the 0.8 → 0.9 guide upgrades, its chart, the
// guide's version and how its lab pod behaves.
type c7n08Release struct {
	release, chart, to string
	b                  labsrv.PodBehaviour
}

// c7n08Site seeds a Choerodon 0.8 site in namespace ns of l and writes the
// upgrade config for environment env.
func c7n08Site(t testing.TB, l *c7nLab, ns, env string) (string, []c7n08Release) {
	upgraded := []c7n08Release{
		{"register-server", "go-register-server", "0.9.0", labsrv.PodBehaviour{Port: 8000, Serve: "eureka", EurekaApp: "go-register-server"}},
		{"config-server", "config-server", "0.9.0", labsrv.PodBehaviour{Port: 8011}},
		{"manager-service", "manager-service", "0.9.0", labsrv.PodBehaviour{Port: 8964}},
		{"iam-service", "iam-service", "0.9.0", labsrv.PodBehaviour{Port: 8031}},
		{"api-gateway", "api-gateway", "0.9.0", labsrv.PodBehaviour{Port: 8081}},
		{"gateway-helper", "gateway-helper", "0.9.0", labsrv.PodBehaviour{Port: 9181}},
		{"oauth-server", "oauth-server", "0.9.0", labsrv.PodBehaviour{Port: 8021}},
		{"file-service", "file-service", "0.9.0", labsrv.PodBehaviour{Port: 9091}},
		{"devops-service", "devops-service", "0.9.3", labsrv.PodBehaviour{Port: 8061}},
		{"gitlab-service", "gitlab-service", "0.9.1", labsrv.PodBehaviour{Port: 8071}},
		{"agile-service", "agile-service", "0.9.1", labsrv.PodBehaviour{Port: 8379}},
		{"test-manager-service", "test-manager-service", "0.9.2", labsrv.PodBehaviour{Port: 8094}},
		{"wiki-service", "wiki-service", "0.9.1", labsrv.PodBehaviour{Port: 8080}},
		{"choerodon-front", "choerodon-front", "0.9.1", labsrv.PodBehaviour{Port: 8080, Serve: "html", Title: "Choerodon"}},
	}
	for _, u := range upgraded {
		require.NoError(t, l.site.Package(u.chart, "0.8.0", u.b))
		require.NoError(t, l.site.Package(u.chart, u.to, u.b))
		require.NoError(t, l.site.Install(ns, u.release, u.chart, "0.8.0", map[string]any{"env": map[string]any{"open": map[string]any{"SITE": "kept"}}}))
	}
	// A 0.8 site's framework databases, with data, for backup-db/mysql.
	db := l.sql(t)
	// devops-service's check log holds the row of an older upgrade, which
	// failed an item: only the row this run's call adds may count.
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS devops_service", devopsCheckLogTable,
		`INSERT INTO devops_service.devops_check_log (begin_check_date, end_check_date, log) VALUES (NOW(), NOW(), '[{"content":"app: old create gitlab webhook","result":"failed: 404 Project Not Found"}]')`} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	l.api.mu.Lock()
	l.api.checkLog = db
	l.api.mu.Unlock()
	for _, d := range []string{"manager_service", "iam_service"} {
		for _, q := range []string{"CREATE DATABASE IF NOT EXISTS " + d, "CREATE TABLE IF NOT EXISTS " + d + ".site (id INT PRIMARY KEY, v VARCHAR(32))",
			"REPLACE INTO " + d + ".site VALUES (1, '0.8')"} {
			_, err := db.Exec(q)
			require.NoError(t, err, q)
		}
	}
	require.NoError(t, l.site.Package("notify-service", "0.9.0", labsrv.PodBehaviour{Port: 18086}))
	require.NoError(t, l.site.Package("asgard-service", "0.9.0", labsrv.PodBehaviour{Port: 18081}))
	cfg := writeFile(t, filepath.Join(l.root, env+".yaml"), fmt.Sprintf(`
guide: choerodon-0.8-0.9
environment: %s
from: "0.8"
to: "0.9"
cluster: lab
namespace: %s
chartRepo: c7n
db:
  host: choerodon-mysql
  user: choerodon
  passwordRef: c7n-db-choerodon
  admin: {address: %q, user: root, passwordRef: c7n-db-root, backup: true}
kafka: [kafka-0.kafka-headless:9092, kafka-1.kafka-headless:9092]
zookeeper: [zookeeper-0.zookeeper-headless:2181]
domains: {api: api.lab.example, gitlab: gitlab.lab.example, front: c7n.lab.example}
minioURL: http://minio.lab.example
api: {url: %q, tokenRef: c7n-admin-token}
oauthClientSecretRef: c7n-oauth-client-secret
probe: {via: pod-ip, timeout: 2m, interval: 300ms, logTimeout: 2m, ports: {choerodon-front: 8080}}
`, env, ns, l.db.Addr, l.api.url))
	return cfg, upgraded
}

func TestChoerodon08To09EndToEndOnTheLab(t *testing.T) {
	l := newC7nLab(t)
	ns := "choerodon-devops-prod"
	cfg, upgraded := c7n08Site(t, l, ns, "lab08")
	id := runbook.WorkflowID("choerodon-0.8-0.9", "lab08")
	startWorker(t, l.workerCfg)
	mustStarter(t, l.workerCfg, "start", "choerodon-0.8-0.9", "-c", cfg)
	st := operate(t, l.workerCfg, id, 5*time.Minute, nil)
	require.Equal(t, runbook.RunCompleted, st.State, "%+v", st)

	for _, u := range upgraded {
		require.Equal(t, u.to, l.chartVersion(t, ns, u.release), u.release)
		require.Equal(t, 2, l.revisions(t, ns, u.release))
		require.Equal(t, "kept", l.values(t, ns, u.release)["env"].(map[string]any)["open"].(map[string]any)["SITE"])
	}
	notify := l.values(t, ns, "notify-service")
	open := notify["env"].(map[string]any)["open"].(map[string]any)
	require.Equal(t, "kafka-0.kafka-headless:9092,kafka-1.kafka-headless:9092", open["SPRING_KAFKA_BOOTSTRAP_SERVERS"])
	require.Equal(t, "http://register-server.choerodon-devops-prod:8000/eureka/", open["EUREKA_CLIENT_SERVICEURL_DEFAULTZONE"])
	require.Equal(t, c7nDBPassword, notify["preJob"].(map[string]any)["preInitDB"].(map[string]any)["mysql"].(map[string]any)["password"])
	devops := l.values(t, ns, "devops-service")["env"].(map[string]any)["open"].(map[string]any)
	require.Equal(t, "/ci,/webhook,/v2/api-docs,/agent/**,/ws/**,/webhook/**", devops["SECURITY_IGNORED"])
	require.Equal(t, "http://minio.lab.example", l.values(t, ns, "choerodon-front")["env"].(map[string]any)["open"].(map[string]any)["PRO_FILE_SERVER"])

	var dbs []string
	rows, err := l.sql(t).Query("SHOW DATABASES")
	require.NoError(t, err)
	for rows.Next() {
		var d string
		require.NoError(t, rows.Scan(&d))
		dbs = append(dbs, d)
	}
	require.Subset(t, dbs, []string{"notify_service", "asgard_service"})
	require.Contains(t, st.Step("wait/devops-check-log").Result, "2 items, all success", "the new row, not the old failed one")

	// The guide's three API calls, with the admin token; the OAuth client's
	// secret resolved on the worker, never in history.
	calls := l.api.all()
	require.Len(t, calls, 4, "%v", calls)
	require.True(t, strings.HasPrefix(calls[0], "GET /devops/v1/upgrade?version=0.9 "+c7nAPIToken), calls[0])
	require.True(t, strings.HasPrefix(calls[1], "POST /wiki/v1/wiki/page "+c7nAPIToken), calls[1])
	require.True(t, strings.HasPrefix(calls[2], "GET /iam/v1/organizations/1/clients?name=choerodon "+c7nAPIToken), calls[2])
	require.True(t, strings.HasPrefix(calls[3], "POST /iam/v1/organizations/1/clients "+c7nAPIToken), calls[3])
	var client map[string]any
	require.NoError(t, json.Unmarshal([]byte(calls[3][strings.Index(calls[3], "{"):]), &client))
	require.Equal(t, c7nOAuthSecret, client["secret"])
	require.Equal(t, "http://c7n.lab.example", client["webServerRedirectUri"])
	assertNoSecrets(t, id, l.artifacts, 20, c7nDBPassword, l.db.RootPassword, "lab-minio-ak", "lab-minio-sk-8812", c7nAPIToken, "lab-admin-token-77Q", c7nOAuthSecret)
	recordHistory(t, id, "choerodon-0.8-0.9-history.json")
}

// c7nFacts is what a Choerodon run changed that the kill sweep compares with
// an unkilled run: Helm revisions per release (helmRevisionFacts), the gateway API's calls, and
// MariaDB's counts of data-changing statements.
func c7nFacts(l *c7nLab, ns string) func(t testing.TB) map[string]int {
	return func(t testing.TB) map[string]int {
		facts := map[string]int{}
		list := action.NewList(l.helm(t, ns))
		list.All, list.StateMask = true, action.ListAll
		rels, err := list.Run()
		require.NoError(t, err)
		for _, r := range rels {
			for k, v := range helmRevisionFacts(t, l.helm(t, ns), r.Name) {
				facts[k] = v
			}
		}
		for _, c := range l.api.all() {
			f := strings.SplitN(c, " ", 3)
			facts["api "+f[0]+" "+f[1]]++
		}
		for k, v := range sqlWrites(t, l.sql(t)) {
			facts[k] = v
		}
		return facts
	}
}

// c7n021ChaosSite is the kill sweep's Choerodon 0.21 site: the e2e test's,
// with the slow pod scaled down.
func c7n021ChaosSite(t testing.TB, address, env string) chaosSite {
	l := newC7nLabOn(t, address)
	ns := "c7n-" + env
	require.NoError(t, l.site.PackageC7N021([]string{"迁移 emailConfig", "修复完成，正常退出"}, 3*time.Second))
	require.NoError(t, l.site.SeedC7N021(ns, l.sql(t), true))
	return chaosSite{workerCfg: l.workerCfg, runCfg: c7n021Config(t, l, env, ns), facts: c7nFacts(l, ns)}
}

// c7n08ChaosSite is the kill sweep's Choerodon 0.8 site (the e2e test's).
func c7n08ChaosSite(t testing.TB, address, env string) chaosSite {
	l := newC7nLabOn(t, address)
	ns := "c7n08-" + env
	cfg, _ := c7n08Site(t, l, ns, env)
	return chaosSite{workerCfg: l.workerCfg, runCfg: cfg, facts: c7nFacts(l, ns)}
}
