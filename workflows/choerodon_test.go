package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"upgrader/activities"
	"upgrader/internal/contract"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// c7nHarness runs a Choerodon workflow in the test environment with every
// activity replaced by a recorder, and an operator that answers what the
// run asks: gates are approved, failed steps get the decision in decide.
type c7nHarness struct {
	testsuite.WorkflowTestSuite
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	calls  []string                     // "UpgradeInstall hzero-iam", in order
	fail   map[string]func(n int) error // by call, the error of the n-th call (1-based), nil: success
	count  map[string]int               // calls by key
	decide map[string]runbook.Decision  // answers for failed steps
	reject map[string]string            // gates to reject, with the comment
	seen   map[string]runbook.StepState // what the operator saw when answering
	asked  []string                     // steps the operator answered, in order
	onWait func(runbook.RunStatus) (done bool)
}

var c7nActivities = []string{"FetchCharts", "PreflightMySQL", "BackupReleaseValues", "DumpMySQL", "Uninstall",
	"EnsureDatabases", "UpgradeInstall", "FollowLog", "WaitUp", "Call", "VerifyReleases", "Apply", "WaitCRDsEstablished",
	"PreflightSecretHosts", "VerifyBackup", "CheckInstalledVersion", "CheckReleases", "CheckKubeAccess", "CheckSecrets", "CheckMySQL",
	"MarkCheckLog", "WaitCheckLog", "CheckHelm2Releases", "ConvertHelm2", "RemoveTillerRecords", "Reinstall"}

// c7nBackedUp are the releases the harness's BackupReleaseValues says it
// saved, each at chart <release> 0.21.0 (or 0.8.0 for the 0.8 guide's).
var c7nBackedUp = []string{"base-service", "api-gateway", "file-service", "manager-service", "notify-service",
	"oauth-server", "register-server", "asgard-service", "config-server"}

func newC7nHarness(t *testing.T) *c7nHarness {
	h := &c7nHarness{t: t, fail: map[string]func(int) error{}, count: map[string]int{}, decide: map[string]runbook.Decision{},
		reject: map[string]string{}, seen: map[string]runbook.StepState{}}
	h.env = h.NewTestWorkflowEnvironment()
	for _, name := range c7nActivities {
		h.env.RegisterActivityWithOptions(func(ctx context.Context, in map[string]any) (runbook.Outcome, error) {
			key := name
			for _, f := range []string{"release", "url"} {
				if v, ok := in[f].(string); ok {
					key += " " + v
					break
				}
			}
			if dbs, ok := in["databases"].([]any); ok && len(dbs) > 0 {
				key += " " + fmt.Sprint(dbs[0].(map[string]any)["name"])
			}
			h.calls = append(h.calls, key)
			h.count[key]++
			if f := h.fail[key]; f != nil {
				if err := f(h.count[key]); err != nil {
					return runbook.Outcome{}, err
				}
			}
			out := runbook.Outcome{Summary: "did " + key}
			if name == "DumpMySQL" {
				out.Outputs = map[string]string{"path": "/artifacts/all-databases.sql", "sha256": strings.Repeat("ab", 32)}
			}
			if name == "MarkCheckLog" {
				out.Outputs = map[string]string{"lastID": "4"}
			}
			if name == "WaitCheckLog" && in["afterID"] != "4" {
				return out, fmt.Errorf("wait/devops-check-log got %v, not mark/devops-check-log's lastID", in)
			}
			if name == "VerifyBackup" && (in["path"] != "/artifacts/all-databases.sql" || in["sha256"] != strings.Repeat("ab", 32)) {
				return out, fmt.Errorf("verify-backup got %v, not the dump's outputs", in)
			}
			if name == "BackupReleaseValues" {
				out.Outputs = map[string]string{}
				for _, r := range c7nBackedUp {
					out.Outputs["path."+r], out.Outputs["sha256."+r] = "/artifacts/values/"+r+".yaml", strings.Repeat("cd", 32)
					out.Outputs["chart."+r], out.Outputs["version."+r] = r, "0.old.0"
				}
			}
			if name == "Reinstall" {
				chart, _ := in["chart"].(map[string]any)
				if r := in["release"]; in["valuesFile"] != fmt.Sprintf("/artifacts/values/%s.yaml", r) || chart["name"] != r ||
					chart["version"] != "0.old.0" || chart["repo"] != "c7n" {
					return out, fmt.Errorf("reinstall got %v, not the backup's outputs", in)
				}
			}
			return out, nil
		}, activity.RegisterOptions{Name: name})
	}
	for _, g := range workflows.Guides() {
		h.env.RegisterWorkflowWithOptions(g.Workflow, workflow.RegisterOptions{Name: g.WorkflowType})
	}
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil)
	h.env.OnUpsertMemo(mock.Anything).Return(nil)
	for i := 1; i <= 600; i++ {
		h.env.RegisterDelayedCallback(h.operator, time.Duration(i)*time.Minute)
	}
	return h
}

// operator answers every step that waits for a person.
func (h *c7nHarness) operator() {
	v, err := h.env.QueryWorkflow(runbook.QueryStatus)
	if err != nil {
		return
	}
	var st runbook.RunStatus
	require.NoError(h.t, v.Get(&st))
	if h.onWait != nil && h.onWait(st) {
		return
	}
	for _, s := range st.Waiting() {
		h.seen[s.Name] = s.State
		h.asked = append(h.asked, s.Name)
		cb := &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(err error) { h.t.Errorf("%s: %v", s.Name, err) },
			OnComplete: func(any, error) {}}
		if s.State == runbook.StepWaitingApproval {
			comment, rej := h.reject[s.Name]
			h.env.UpdateWorkflow(runbook.UpdateApprove, "", cb, runbook.Approval{Step: s.Name, By: "tester", Reject: rej, Comment: comment})
			continue
		}
		d, ok := h.decide[s.Name]
		if !ok {
			h.t.Fatalf("step %s failed and the test has no decision for it: %s", s.Name, s.LastError)
		}
		d.Step, d.By = s.Name, "tester"
		h.env.UpdateWorkflow(runbook.UpdateDecide, "", cb, d)
	}
}

func (h *c7nHarness) run(workflowType string, in any) (runbook.RunStatus, error) {
	h.env.ExecuteWorkflow(workflowType, in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	var st runbook.RunStatus
	err := h.env.GetWorkflowError()
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&st))
	}
	return st, err
}

func (h *c7nHarness) index(call string) int {
	i := slices.Index(h.calls, call)
	require.GreaterOrEqual(h.t, i, 0, "%s was never called; calls: %v", call, h.calls)
	return i
}

func c7n021Input() workflows.Choerodon021Input {
	in := workflows.NewChoerodon021Input()
	in.Environment = "lab"
	in.DB.Host, in.DB.PasswordRef = "c7n-mysql.c7n-system", "db-pw"
	in.DB.Admin = &workflows.ChoerodonDBAdmin{DBServer: workflows.DBServer{Address: "127.0.0.1:3306", User: "root", PasswordRef: "db-root"}, Backup: true}
	in.Redis.Host = "c7n-redis.c7n-system"
	in.EurekaURL = "http://register.c7n-system:8000/eureka/"
	in.Domains = workflows.Choerodon021Domains{API: "api.lab", Register: "register.lab", Notify: "notify.lab", Hzero: "hzero.lab", Front: "lab"}
	in.MinIO = workflows.ChoerodonMinIO{Endpoint: "https://minio.lab", AccessKeyRef: "minio-ak", SecretKeyRef: "minio-sk"}
	in.API = workflows.ChoerodonAPI{URL: "http://api.lab", TokenRef: "admin-token"}
	return in
}

func planNames(t *testing.T, in workflows.Input) []string {
	steps, err := in.Plan()
	require.NoError(t, err)
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	return names
}

func TestChoerodon021RunsTheGuideInOrder(t *testing.T) {
	h := newC7nHarness(t)
	in := c7n021Input()
	st, err := h.run("ChoerodonUpgrade_0_21_to_0_22", in)
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)

	// Every step of the plan is in the status, in the plan's order.
	var got []string
	for _, s := range st.Steps {
		got = append(got, s.Name)
	}
	require.Equal(t, planNames(t, &in), got)

	// Backups, then the person, then the deletes; each delete once.
	for _, r := range []string{"base-service", "api-gateway", "file-service", "manager-service", "notify-service",
		"oauth-server", "register-server", "asgard-service"} {
		i := h.index("Uninstall " + r)
		require.Less(t, h.index("BackupReleaseValues"), i)
		require.Less(t, h.index("DumpMySQL"), i)
		require.Less(t, h.index("VerifyBackup"), i, "the dump is hashed again before the first delete")
		require.Less(t, h.index("DumpMySQL"), h.index("VerifyBackup"))
		require.Equal(t, 1, h.count["Uninstall "+r])
	}
	require.Equal(t, []string{"approve/delete-old-releases", "approve/knowledgebase-db-backup"},
		h.asked, "the operator is asked exactly the guide's two questions")
	// The migration is followed before hzero is installed; hzero in the guide's order, each waited on.
	require.Less(t, h.index("FollowLog data-migration"), h.index("UpgradeInstall hzero-register"))
	order := []string{"hzero-register", "hzero-admin", "hzero-iam", "hzero-asgard", "hzero-swagger", "hzero-gateway",
		"hzero-oauth", "hzero-platform", "hzero-monitor", "hzero-file", "hzero-message", "agile-service",
		"test-manager-service", "knowledgebase-service", "gitlab-service", "workflow-service", "devops-service",
		"choerodon-front", "hzero-front"}
	for i, r := range order {
		up := h.index("UpgradeInstall " + r)
		require.Less(t, up, h.index("WaitUp "+r), r)
		if i > 0 {
			require.Less(t, h.index("WaitUp "+order[i-1]), up, "%s before %s", order[i-1], r)
		}
	}
	require.Less(t, h.index("FollowLog knowledgebase-service"), h.index("WaitUp knowledgebase-service"))
	// devops' log line came: the repair call is not needed and not made.
	fix := st.Step("devops-data-fix/retry")
	require.Equal(t, runbook.StepSkipped, fix.State)
	require.Contains(t, fix.Result, "not needed")
	require.Zero(t, h.count["Call http://api.lab/devops/v1/upgrade?version=0.21.0"])
	require.Equal(t, "VerifyReleases", h.calls[len(h.calls)-1])
}

func TestChoerodon021MigrationExceptionStopsEverythingAfterIt(t *testing.T) {
	h := newC7nHarness(t)
	h.fail["FollowLog data-migration"] = func(int) error {
		return temporal.NewNonRetryableApplicationError("line 42 matches Exception: java.lang.IllegalStateException: bad row",
			activities.ErrLogFailure, nil)
	}
	h.decide["follow-log/data-migration"] = runbook.Decision{Action: runbook.ActionAbort, Comment: "migration failed, asking the forum"}
	st, err := h.run("ChoerodonUpgrade_0_21_to_0_22", c7n021Input())
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, runbook.ErrAborted, app.Type())
	require.Contains(t, err.Error(), "IllegalStateException")
	_ = st
	require.Equal(t, runbook.StepFailedAwaiting, h.seen["follow-log/data-migration"])
	require.Equal(t, 1, h.count["FollowLog data-migration"], "a failure line is not retried by itself")
	for _, c := range h.calls {
		require.False(t, strings.Contains(c, "hzero-register"), "nothing after the migration ran: %v", h.calls)
	}
}

func TestChoerodon021FailedWaitRetriedAndDevopsRepairOffered(t *testing.T) {
	h := newC7nHarness(t)
	h.fail["WaitUp hzero-iam"] = func(n int) error {
		if n == 1 {
			return temporal.NewNonRetryableApplicationError("hzero-iam not up: HTTP 503", "NotReady", nil)
		}
		return nil
	}
	h.fail["FollowLog devops-service"] = func(int) error {
		return temporal.NewNonRetryableApplicationError("no line matching 修复数据完成", "Timeout", nil)
	}
	h.decide["wait-up/hzero-iam"] = runbook.Decision{Action: runbook.ActionRetry}
	h.decide["follow-log/devops-service"] = runbook.Decision{Action: runbook.ActionSkip, Comment: "no 修复数据完成 after 30m"}
	st, err := h.run("ChoerodonUpgrade_0_21_to_0_22", c7n021Input())
	require.NoError(t, err)
	require.Equal(t, 2, h.count["WaitUp hzero-iam"])
	require.Equal(t, 1, h.count["UpgradeInstall hzero-iam"], "a retried wait does not upgrade again")
	require.Equal(t, runbook.StepSkipped, st.Step("follow-log/devops-service").State)
	// The repair call waited for a person, then ran after the front ends.
	require.Equal(t, runbook.StepWaitingApproval, h.seen["devops-data-fix/retry"])
	call := h.index("Call http://api.lab/devops/v1/upgrade?version=0.21.0")
	require.Less(t, h.index("WaitUp hzero-front"), call)
	require.Equal(t, runbook.StepDone, st.Step("devops-data-fix/retry").State)
}

func TestChoerodon021WithoutDBAccessAsksAPerson(t *testing.T) {
	in := c7n021Input()
	in.DB.Admin = nil
	in.API = workflows.ChoerodonAPI{}
	steps, err := in.Plan()
	require.NoError(t, err)
	byName := map[string]runbook.Step{}
	for _, s := range steps {
		byName[s.Name] = s
	}
	require.NotNil(t, byName["backup-db/mysql"].Gate, "no dump without access: a person confirms the backup")
	require.Contains(t, byName["backup-db/mysql"].Gate.Prompt, "base_service")
	require.NotNil(t, byName["create-databases/hzero"].Gate)
	require.Contains(t, byName["create-databases/hzero"].Gate.Prompt, "CREATE DATABASE IF NOT EXISTS hzero_platform DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	require.NotContains(t, byName["create-databases/hzero"].Gate.Prompt, "db-pw'", "the SQL names the secret, never holds it")
	require.Nil(t, byName["devops-data-fix/retry"].Activity, "no API URL: the repair call is made by hand")
	require.NotContains(t, byName, "preflight/mysql")
	require.Equal(t, []string{"backup-values/all", "backup-db/mysql", "approve/delete-old-releases"}, byName["delete-release/base-service"].Requires)
}

func TestChoerodon021ConfigProblemsAreListedTogether(t *testing.T) {
	in := workflows.NewChoerodon021Input()
	in.Versions = map[string]string{"hzero-nope": "1.0"}
	in.Probe.Via = "ssh"
	err := in.Validate()
	require.Error(t, err)
	for _, want := range []string{"environment", "db.host", "db.passwordRef", "redis.host", "eurekaURL", "domains.api",
		"minio.endpoint", "versions.hzero-nope", "probe.via"} {
		require.Contains(t, err.Error(), want)
	}
}

func TestChoerodonConfigCheckedBeforeAnyStep(t *testing.T) {
	in := workflows.NewChoerodon021Input()
	in.Probe.LogFailure = []string{`Exception`, `(unclosed`}
	in.Probe.Interval = contract.Duration(time.Minute)
	in.GateRemindAfter = contract.Duration(time.Second)
	err := in.Validate()
	require.Error(t, err)
	for _, want := range []string{"probe.logFailure[1]", "probe.interval", "heartbeat", "gateRemindAfter", "at least 5m0s"} {
		require.Contains(t, err.Error(), want)
	}
	require.NotContains(t, err.Error(), "probe.logFailure[0]")

	in08 := workflows.NewChoerodon08Input()
	in08.Probe.Interval = contract.Duration(-time.Second)
	in08.GateRemindAfter = 0 // no reminders is fine
	err = in08.Validate()
	require.Error(t, err)
	require.Contains(t, err.Error(), "probe.interval")
	require.NotContains(t, err.Error(), "gateRemindAfter")
}

func c7n08Input() workflows.Choerodon08Input {
	in := workflows.NewChoerodon08Input()
	in.Environment = "lab"
	in.DB.Host, in.DB.PasswordRef = "choerodon-mysql", "db-pw"
	in.DB.Admin = &workflows.ChoerodonDBAdmin{DBServer: workflows.DBServer{Address: "127.0.0.1:3306", User: "root", PasswordRef: "db-root"}}
	in.Kafka = []string{"kafka-0:9092", "kafka-1:9092"}
	in.ZooKeeper = []string{"zk-0:2181"}
	in.Domains = workflows.Choerodon08Domains{API: "api.lab", GitLab: "gitlab.lab", Front: "c7n.lab"}
	in.MinIOURL = "http://minio.lab"
	in.API = workflows.ChoerodonAPI{URL: "http://api.lab", TokenRef: "admin-token"}
	in.OAuthClientSecretRef = "oauth-secret"
	return in
}

func TestChoerodon08RunsTheGuideInOrder(t *testing.T) {
	h := newC7nHarness(t)
	h.reject["wiki-refresh-home/0.9"] = "done by hand in swagger"
	in := c7n08Input()
	st, err := h.run("ChoerodonUpgrade_0_8_to_0_9", in)
	require.NoError(t, err)
	require.Equal(t, runbook.RunCompleted, st.State)
	order := []string{"register-server", "config-server", "manager-service", "iam-service", "notify-service", "asgard-service",
		"api-gateway", "gateway-helper", "oauth-server", "file-service", "devops-service", "gitlab-service", "agile-service",
		"test-manager-service", "wiki-service", "choerodon-front"}
	for i := 1; i < len(order); i++ {
		require.Less(t, h.index("UpgradeInstall "+order[i-1]), h.index("UpgradeInstall "+order[i]))
	}
	require.Less(t, h.index("EnsureDatabases notify_service"), h.index("UpgradeInstall notify-service"))
	require.Less(t, h.index("EnsureDatabases asgard_service"), h.index("UpgradeInstall asgard-service"))
	require.Less(t, h.index("WaitCRDsEstablished"), h.index("UpgradeInstall devops-service"))
	// devops_check_log: its last row read before the smooth upgrade call, its
	// new row waited for after it, before gitlab-service.
	require.Less(t, h.index("MarkCheckLog"), h.index("Call http://api.lab/devops/v1/upgrade?version=0.9"))
	require.Less(t, h.index("Call http://api.lab/devops/v1/upgrade?version=0.9"), h.index("WaitCheckLog"))
	require.Less(t, h.index("WaitCheckLog"), h.index("UpgradeInstall gitlab-service"))
	// Every XWiki sub-step was asked, in order, before wiki-service.
	var xwiki []string
	for _, a := range h.asked {
		if strings.HasPrefix(a, "xwiki/") {
			xwiki = append(xwiki, a)
		}
	}
	require.Equal(t, []string{"xwiki/download-package", "xwiki/edit-properties", "xwiki/copy-repository", "xwiki/import-xar",
		"xwiki/delete-confluencetest", "xwiki/restart"}, xwiki)
	// Approved API calls ran; the rejected one is skipped, with who and why.
	require.Equal(t, 1, h.count["Call http://api.lab/devops/v1/upgrade?version=0.9"])
	require.Equal(t, 1, h.count["Call http://api.lab/iam/v1/organizations/1/clients"])
	require.Zero(t, h.count["Call http://api.lab/wiki/v1/scan/home"])
	wiki := st.Step("wiki-refresh-home/0.9")
	require.Equal(t, runbook.StepSkipped, wiki.State)
	require.Equal(t, "done by hand in swagger", wiki.Approval.Comment)
}

func TestChoerodon08RejectedGitLabGateStopsBeforeDevops(t *testing.T) {
	h := newC7nHarness(t)
	h.reject["approve/gitlab-ssh"] = "SSH is off on our GitLab"
	_, err := h.run("ChoerodonUpgrade_0_8_to_0_9", c7n08Input())
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, runbook.ErrRejected, app.Type())
	require.Zero(t, h.count["UpgradeInstall devops-service"])
}

// BenchmarkChoerodon021Plan measures building the 59-step plan, which every
// workflow task of a run (and every replay) does once.
func BenchmarkChoerodon021Plan(b *testing.B) {
	in := c7n021Input()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := in.Plan(); err != nil {
			b.Fatal(err)
		}
	}
}

// The guide's 升级后可能数据库结构会发生改变，故不能进行版本回退: nothing is
// upgraded before the values and the databases are saved and a person
// approved the step with no way back (not the person who started the run).
func TestChoerodon08UpgradesNothingBeforeItsBackupsAndTheNoWayBackGate(t *testing.T) {
	for _, dump := range []bool{true, false} {
		in := c7n08Input()
		in.DB.Admin.Backup = dump
		steps, err := in.Plan()
		require.NoError(t, err)
		byName := map[string]runbook.Step{}
		order := map[string]int{}
		for i, s := range steps {
			byName[s.Name], order[s.Name] = s, i
		}
		want := []string{"backup-values/all", "backup-db/mysql", "approve/no-way-back"}
		if dump {
			want = append(want, "verify-restore/mysql", "verify-backup/mysql")
			require.Equal(t, runbook.KindBackup, byName["backup-db/mysql"].Kind)
			// The dump is restored right after it is made, and the gate shows what the drill found.
			require.Equal(t, order["backup-db/mysql"]+1, order["verify-restore/mysql"])
			require.NotNil(t, byName["verify-restore/mysql"].Input.(activities.VerifyBackupInput).Drill)
			require.Equal(t, []string{"verify-restore/mysql"}, byName["approve/no-way-back"].Gate.Show)
		} else {
			require.NotNil(t, byName["backup-db/mysql"].Gate, "no dump by the worker: a person confirms one")
		}
		require.Equal(t, want, byName["upgrade/register-server"].Requires)
		require.True(t, byName["approve/no-way-back"].Gate.Destructive)
		require.Contains(t, byName["approve/no-way-back"].Gate.Prompt, "故不能进行版本回退")
		for _, w := range want {
			require.Less(t, order[w], order["upgrade/register-server"], w)
		}
	}
}

func TestChoerodon021RollbackBeforeTheMigrationReinstallsTheDeletedReleases(t *testing.T) {
	h := newC7nHarness(t)
	h.fail["EnsureDatabases hzero_platform"] = func(int) error {
		return temporal.NewNonRetryableApplicationError("Access denied for user 'root'@'10.0.0.9'", "DBAuthFailed", nil)
	}
	h.decide["create-databases/hzero"] = runbook.Decision{Action: runbook.ActionAbort, Comment: "admin password rotated", Rollback: true}
	_, err := h.run("ChoerodonUpgrade_0_21_to_0_22", c7n021Input())
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, runbook.ErrRolledBack, app.Type())
	var st runbook.RunStatus
	require.NoError(t, app.Details(&st))
	require.Equal(t, runbook.RunRolledBack, st.State)
	// Latest delete first; each release up before the next is put back.
	prev := h.index("Uninstall asgard-service")
	for _, r := range []string{"asgard-service", "register-server", "oauth-server", "notify-service", "manager-service",
		"file-service", "api-gateway", "base-service"} {
		re, up := h.index("Reinstall "+r), h.index("WaitUp "+r)
		require.Less(t, prev, re, r)
		require.Less(t, re, up, r)
		prev = up
		require.Equal(t, runbook.StepDone, st.Step("undo/wait-up/"+r).State)
	}
	require.NotContains(t, h.calls, "UpgradeInstall data-migration")
	require.Equal(t, runbook.StepNotRunAfterAbort, st.Step("install/data-migration").State)
}

func TestChoerodon021RollbackRefusedOnceTheMigrationStarted(t *testing.T) {
	h := newC7nHarness(t)
	h.fail["FollowLog data-migration"] = func(int) error {
		return temporal.NewNonRetryableApplicationError("line 42 matches Exception", activities.ErrLogFailure, nil)
	}
	refused := false
	h.onWait = func(st runbook.RunStatus) bool {
		if refused || st.CurrentStep != "follow-log/data-migration" {
			return false
		}
		refused = true
		h.env.UpdateWorkflow(runbook.UpdateDecide, "", &testsuite.TestUpdateCallback{OnAccept: func() { t.Error("--rollback accepted") },
			OnReject: func(err error) {
				require.ErrorContains(t, err, "install/data-migration, the point of no return, is done; the guide warns: 升级后可能数据库结构会发生改变，故不能进行版本回退")
			}, OnComplete: func(any, error) {}},
			runbook.Decision{Step: "follow-log/data-migration", Action: runbook.ActionAbort, By: "tester", Comment: "back", Rollback: true})
		return true
	}
	h.decide["follow-log/data-migration"] = runbook.Decision{Action: runbook.ActionAbort, Comment: "migration failed"}
	_, err := h.run("ChoerodonUpgrade_0_21_to_0_22", c7n021Input())
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, runbook.ErrAborted, app.Type())
	require.True(t, refused)
	require.NotContains(t, strings.Join(h.calls, ","), "Reinstall")
}

func TestChoerodon08RollbackBeforeManagerServiceUpgradesTheFrameworkBack(t *testing.T) {
	h := newC7nHarness(t)
	h.fail["WaitUp config-server"] = func(n int) error {
		if n == 1 {
			return temporal.NewNonRetryableApplicationError("config-server not up: HTTP 503", "NotReady", nil)
		}
		return nil
	}
	h.decide["wait-up/config-server"] = runbook.Decision{Action: runbook.ActionAbort, Comment: "0.9 config-server broken", Rollback: true}
	_, err := h.run("ChoerodonUpgrade_0_8_to_0_9", c7n08Input())
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, runbook.ErrRolledBack, app.Type())
	require.Less(t, h.index("Reinstall config-server"), h.index("Reinstall register-server"))
	require.Equal(t, "WaitUp register-server", h.calls[len(h.calls)-1], "the registry checked up last")
	require.NotContains(t, h.calls, "UpgradeInstall manager-service")
}

// Choerodon 0.8's plan revision 1 checks the site as 0.21's does; a run that
// started before it (its recorded history replays in replay_test.go) keeps
// the checks it started with.
func TestChoerodon08PlanRevisions(t *testing.T) {
	require.Equal(t, 1, workflows.Choerodon08Guide.PlanRevision)
	in := c7n08Input()
	newest := planNames(t, &in)
	for _, s := range []string{"preflight/releases", "preflight/cluster-access", "preflight/secrets", "preflight/mysql"} {
		require.Contains(t, newest, s)
	}
	require.NotContains(t, newest, "preflight/installed-version")
	in.PlanRevision = runbook.OriginalPlan
	original := planNames(t, &in)
	require.Contains(t, original, "preflight/installed-version")
	require.NotContains(t, original, "preflight/releases")
	require.Equal(t, newest[len(newest)-20:], original[len(original)-20:], "only the checks before any change differ")
}
