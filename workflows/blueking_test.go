package workflows_test

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

func blueKingExample(t *testing.T) (workflows.BlueKingInput, []runbook.Step) {
	t.Helper()
	in := workflows.NewBlueKingInput()
	require.NoError(t, config.LoadUpgrade(filepath.Join("..", "config/examples/blueking-6.1-6.2.yaml"), "blueking-6.1-6.2", &in))
	steps, err := in.Plan()
	require.NoError(t, err)
	return in, steps
}

func stepIndex(steps []runbook.Step) map[string]int {
	idx := map[string]int{}
	for i, s := range steps {
		idx[s.Name] = i
	}
	return idx
}

// TestBlueKingPlanFollowsTheGuide: every step names a section of the map,
// in the map's order; every section is carried out by a step or says why
// not; read-only preflight checks come first; the guide's order holds
// where it matters.
func TestBlueKingPlanFollowsTheGuide(t *testing.T) {
	_, steps := blueKingExample(t)
	g := workflows.BlueKingGuide
	order := map[string]int{}
	for i, s := range g.Map {
		_, dup := order[s.ID]
		require.False(t, dup, "section %s twice", s.ID)
		order[s.ID] = i
	}
	used := map[string]bool{}
	last := 0
	for i, s := range steps {
		pos, ok := order[s.Section]
		require.True(t, ok, "step %s names section %q, not in the map", s.Name, s.Section)
		require.GreaterOrEqual(t, pos, last, "step %s (§%s) comes after a later section", s.Name, s.Section)
		last = pos
		used[s.Section] = true
		if strings.HasPrefix(s.Name, "preflight/") {
			require.Equal(t, runbook.KindCheck, s.Kind, s.Name)
			for _, p := range steps[:i] {
				require.True(t, strings.HasPrefix(p.Name, "preflight/"), "preflight %s comes after %s", s.Name, p.Name)
			}
		}
	}
	for _, s := range g.Map {
		if !used[s.ID] {
			require.True(t, s.Manual != "" || s.NotAutomated != "" || s.ID == "5" || s.ID == "6" || s.ID == "7" || s.ID == "7.10",
				"section %s (%s) has no step and says nothing about why", s.ID, s.Title)
		}
		if s.Manual != "" {
			found := false
			for _, st := range steps {
				if st.Section == s.ID && st.Gate != nil {
					found = true
				}
			}
			require.True(t, found, "manual section %s has no gate", s.ID)
		}
	}

	idx := stepIndex(steps)
	before := func(a, b string) {
		t.Helper()
		ia, ok := idx[a]
		require.True(t, ok, "no step %s", a)
		ib, ok := idx[b]
		require.True(t, ok, "no step %s", b)
		require.Less(t, ia, ib, "%s must come before %s", a, b)
	}
	// Backups before anything changes the site; the destructive moves require them.
	for _, b := range []string{"backup/mysql", "verify-backup/mysql", "backup/mongodb", "verify-backup/mongodb", "backup/install"} {
		before(b, "move/src-aside")
		require.Contains(t, steps[idx["replace/src"]].Requires, b)
	}
	before("checksum/package", "unpack/package")
	before("approve/maintenance-window", "checksum/package")
	before("replace/install", "env/ssm-keys-bkmonitorv3") // rsync replaces bin/default
	before("unpack/products", "job/gse-v2-off")           // re-extracting would undo the yq edit
	before("env/ssm-bklog", "install/bkenv")
	before("install/bkenv", "sync/common")
	// IAM: check, a person reads it, migrate, check.
	before("install-saas/bk_iam", "check/iam-before-migrate")
	before("check/iam-before-migrate", "migrate/iam-subject-system-group")
	before("migrate/iam-subject-system-group", "check/iam-after-migrate")
	mig := steps[idx["migrate/iam-subject-system-group"]]
	require.NotNil(t, mig.Gate)
	require.Equal(t, []string{"check/iam-before-migrate", "verify-restore/mysql", "verify-restore/mongodb"}, mig.Gate.Show, "the migrate gate shows what the backups proved")
	require.False(t, mig.Input.(activities.HostCommandInput).Repeatable, "migrate runs once per try")
	// GSE: new processes first, old ones off before the check.
	before("install/gse", "stop-old/gse-v1/bk-1")
	before("stop-old/gse-v1/bk-1", "check/gse")
	// JOB: yq on every host, switch off and read back, upgrade once, versions read at run time.
	for _, h := range []string{"bk-1", "bk-2", "bk-3"} {
		before("install/yq/"+h, "job/gse-v2-off")
	}
	before("job/gse-v2-check", "upgrade/job")
	up := steps[idx["upgrade/job"]].Input.(activities.HostCommandInput)
	require.False(t, up.Repeatable)
	require.Contains(t, up.Command, "./bkcli upgrade job")
	for _, n := range []string{"job/upgrader-before", "job/upgrader-after"} {
		s := steps[idx[n]]
		require.Equal(t, runbook.From{Step: "job/versions", Output: "from_version"}, s.Inputs["env.from_version"])
		require.Equal(t, runbook.From{Step: "job/versions", Output: "to_version"}, s.Inputs["env.to_version"])
		in := s.Input.(activities.HostCommandInput)
		require.Equal(t, "bk-3", in.Host.Name)
		require.Contains(t, in.Success[0], "upgradeTasks finished successfully")
	}
	before("job/upgrader-before", "job/upgrader-after")
	// Monitor SaaS before its back end; topology after every back end, with the manual CMDB steps.
	before("install-saas/bk_monitorv3", "install/bkmonitorv3")
	before("log/iam-upgrade-v2", "approve/topology")
	before("signal/hosts-to-idle-pool", "cmdb/allow-blueking-modify")
	before("cmdb/allow-blueking-modify", "signal/clusters-deleted")
	before("signal/clusters-deleted", "topology/delete-templates")
	before("topology/job-full-modules", "initdata/topo")
	require.Equal(t, "version/update-common-info", steps[len(steps)-1].Name)

	// pcmd fan-out: one step per host of the module, side by side.
	var mon []runbook.Step
	for _, s := range steps {
		if strings.HasPrefix(s.Name, "stop-old/monitor/") {
			mon = append(mon, s)
		}
	}
	require.Len(t, mon, 2)
	require.Equal(t, mon[0].Parallel, mon[1].Parallel)
	require.NotEmpty(t, mon[0].Parallel)
}

// TestBlueKingOutputsTheGuideNames: the exit codes and output lines the
// guide calls expected are expected, and nothing else.
func TestBlueKingOutputsTheGuideNames(t *testing.T) {
	_, steps := blueKingExample(t)
	idx := stepIndex(steps)
	host := func(n string) activities.HostCommandInput {
		t.Helper()
		i, ok := idx[n]
		require.True(t, ok, n)
		return steps[i].Input.(activities.HostCommandInput)
	}
	stopped := host("check-stopped/paas/bk-2")
	require.Equal(t, []int{3, 4}, stopped.ExpectExit, "systemctl status of stopped units exits 3")
	require.True(t, stopped.Repeatable)
	gse := host("install/gse")
	require.Len(t, gse.Ignore, 4)
	for _, l := range []string{
		"API gateway released 2.1.2-beta20+20230913021624, title bk-gse-v2, stages ['prod']",
		"warning!! generate sdks failed: status_code: 400, code: 50100, 网关 SDK 发布失败，请联系管理员。",
		"Stderr: request bkapi failed. status_code: <Response [400]>,",
		"bkapi_client_core.exceptions.HTTPResponseError: 400 Client Error: Bad Request for url: http://apigw-apigateway.service.consul:6006/api/bk-apigateway/prod/api/v1/apis/bk-gse/sdk/, status_code: 400, request_id: 0f1e2d3c-aaaa-bbbb-cccc-000000000000",
	} {
		require.True(t, matchesAny(gse.Ignore, l), "ignored: %s", l)
		if !strings.HasPrefix(l, "API gateway released") {
			require.True(t, matchesAny(gse.Failure, l), "without the ignore list it would fail: %s", l)
		}
	}
	require.True(t, matchesAny(gse.Failure, "ERROR: install gse failed"))
	require.False(t, matchesAny(gse.Ignore, "ERROR: install gse failed"))
	logIAM := host("log/iam-upgrade-v2")
	require.Equal(t, []string{"Congratulations! IAM upgrade successfully!!!"}, logIAM.Success)
	require.True(t, matchesAny(logIAM.Ignore, "requests.exceptions.ConnectionError: HTTPConnectionPool(host='report.bkmonitorv3.service.consul', port=10205)"))
	v := host("job/gse-v2-check")
	require.True(t, matchesAny(v.Success, "false"))
	require.False(t, matchesAny(v.Success, "null"))
	require.True(t, matchesAny(v.Failure, "null"))
	pre := host("check/iam-before-migrate")
	require.Equal(t, []int{0, 1}, pre.ExpectExit)
	require.True(t, matchesAny(pre.Failure, "pymysql.err.OperationalError: (1045, \"Access denied for user 'root'@'10.0.0.1'\")"))
	require.False(t, matchesAny(pre.Failure, "Exception: subject_system_group table not exists"))
	// Appends are guarded: a second run of the script appends nothing.
	for _, n := range []string{"env/gse", "env/job", "env/agent-v1-gse", "env/agent-v1-cmdb", "env/agent-v1-bknodeman",
		"env/ssm-keys-bkmonitorv3", "env/ssm-keys-bklog", "env/monitor-run-mode", "env/ssm-bkmonitorv3", "env/ssm-bklog"} {
		c := host(n).Command
		require.Contains(t, c, "if grep -q '^", n)
		require.Greater(t, strings.Index(c, ">>"), strings.Index(c, "; else\n"), "%s appends only under the guard", n)
	}
	// No secret value in any step: only the names of secrets.
	for _, s := range steps {
		if in, ok := s.Input.(activities.HostCommandInput); ok {
			require.Empty(t, in.SecretEnv, s.Name)
			require.NotContains(t, in.Command, "password: ", s.Name)
		}
	}
}

func matchesAny(patterns []string, line string) bool {
	for _, p := range patterns {
		if regexp.MustCompile(p).MatchString(line) {
			return true
		}
	}
	return false
}

// TestBlueKingValidateNamesEveryProblem: a bad config is refused with
// every problem named by its key.
func TestBlueKingValidateNamesEveryProblem(t *testing.T) {
	in, _ := blueKingExample(t)
	in.Control = "bk-9"
	in.Package.MD5 = "not-md5"
	in.Paths.SrcDir = "data/src"
	in.Paths.TmpDir = "/data/tmp;rm"
	in.MySQL.PasswordRef = ""
	in.MongoDB.Address = "mongo"
	in.LanIPs = map[string]string{"bk-7": "x"}
	h := in.Hosts["bk-3"]
	h.Modules = slices.DeleteFunc(slices.Clone(h.Modules), func(m string) bool { return m == "redis_cluster" })
	in.Hosts = maps(in.Hosts, "bk-3", h)
	in.JobUpgradeTimeout = 0
	in.From = "6.0"
	err := in.Validate()
	require.Error(t, err)
	for _, key := range []string{"control:", "package.md5:", "paths.srcDir:", "paths.tmpDir:", "mysql.passwordRef:", "mongodb.address:",
		"lanIPs.bk-7:", "hosts: no host runs redis_cluster", "jobUpgradeTimeout:", "from:"} {
		require.Contains(t, err.Error(), key)
	}
	_, err = in.Plan()
	require.Error(t, err)
}

func maps(m config.Inventory, k string, v config.Host) config.Inventory {
	out := config.Inventory{}
	for kk, vv := range m {
		out[kk] = vv
	}
	out[k] = v
	return out
}

// The guides' database servers share one type and one check: the same
// problem reads the same under each guide's key.
func TestDatabaseServersAreCheckedAlike(t *testing.T) {
	in, _ := blueKingExample(t)
	in.MongoDB.User, in.MongoDB.PasswordRef = "", "" // a server without authentication
	require.NoError(t, in.Validate())
	in.MongoDB.PasswordRef = "bk-mongo"
	in.MySQL.User = "root'--"
	err := in.Validate()
	require.ErrorContains(t, err, "mongodb.passwordRef: is set but user is empty")
	require.ErrorContains(t, err, `mysql.user: "root'--": a user name has no spaces, quotes or backslashes`)
	in.MySQL.User = ""
	require.ErrorContains(t, in.Validate(), "mysql.user: is empty; give the account the worker connects as")
}
