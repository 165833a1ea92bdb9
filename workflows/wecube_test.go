package workflows_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

func wecubeExample(t *testing.T) *workflows.WeCube400Input {
	t.Helper()
	in := workflows.NewWeCube400Input()
	require.NoError(t, config.LoadUpgrade(filepath.Join("..", "config", "examples", "wecube-4.0.0.yaml"), "wecube-4.0.0", &in))
	return &in
}

func stepNames(steps []runbook.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

func TestWeCube400PlanReadsLikeTheGuide(t *testing.T) {
	in := wecubeExample(t)
	steps, err := in.Plan()
	require.NoError(t, err)
	require.NoError(t, runbook.ValidatePlan(steps))
	names := stepNames(steps)
	idx := func(n string) int { i := slices.Index(names, n); require.GreaterOrEqual(t, i, 0, n); return i }

	// Read-only checks first, then the guide's order.
	sections := map[string]bool{}
	for _, s := range workflows.WeCube400Guide.Map {
		sections[s.ID] = true
	}
	firstChange := -1
	for i, s := range steps {
		require.True(t, sections[s.Section], "step %s names section %q, which is not in the map", s.Name, s.Section)
		if strings.HasPrefix(s.Name, "preflight/") {
			require.Equal(t, runbook.KindCheck, s.Kind, s.Name)
			require.Equal(t, -1, firstChange, "%s comes after a step that changes something", s.Name)
		} else if firstChange < 0 {
			firstChange = i
		}
	}
	require.Less(t, idx("backup-db/auth_server"), idx("run-ddl/auth_server"))
	require.Less(t, idx("backup-db/wecube"), idx("run-ddl/wecube"))
	require.Contains(t, steps[idx("run-ddl/wecube")].Requires, "backup-db/wecube")
	require.Less(t, idx("run-ddl/wecube"), idx("check-schema/wecube"))
	order := []string{"create-dirs/platform", "write-compose/auth-server", "up/auth-server", "wait-up/auth-server", "up/core", "wait-up/core",
		"up/gateway", "wait-up/gateway", "up/portal", "wait-up/portal", "check-login/portal", "set-system-variable/gateway-url-new",
		"list-plugins/running", "reregister-plugin"}
	for i := 1; i < len(order); i++ {
		require.Less(t, idx(order[i-1]), idx(order[i]), "%s before %s", order[i-1], order[i])
	}
	require.NotContains(t, names, "approve/replace-mode")
	require.NotContains(t, names, "stop-old/containers")

	// One gate per running plugin, named after it, in the plugins section.
	exp := steps[idx("reregister-plugin")].Expand
	require.NotNil(t, exp)
	g := exp.Build("wecmdb")
	require.Equal(t, "reregister-plugin/wecmdb", g.Name)
	require.NotNil(t, g.Gate)
	require.Contains(t, g.Gate.Prompt, "重注册插件包")
	require.Contains(t, g.Gate.Prompt, "old one", "shared instances: both WeCubes")

	// No secret value travels, only names: the compose inputs name secrets.
	f := steps[idx("write-compose/core")].Input.(activities.ComposeFileInput)
	require.Equal(t, "wecube-mysql-wecube-password", f.SecretVars["mysql_wecube_password"])
	require.Equal(t, "10.0.0.10", f.Vars["mysql_wecube_host"])
	require.Equal(t, "3307", f.Vars["mysql_wecube_port"])
}

func TestWeCube400ReplaceModeAsksFirstAndStopsTheOldLast(t *testing.T) {
	in := wecubeExample(t)
	in.Mode = workflows.WeCubeModeReplace
	in.SharedPluginInstances = false
	in.Replace.OldContainers = []string{"platform-core", "wecube-portal"}
	steps, err := in.Plan()
	require.NoError(t, err)
	names := stepNames(steps)
	gate := slices.Index(names, "approve/replace-mode")
	require.Greater(t, gate, 0)
	for _, s := range steps[:gate] {
		require.Equal(t, runbook.KindCheck, s.Kind, "only checks before the replace gate: %s", s.Name)
	}
	require.Contains(t, steps[gate].Gate.Prompt, "新版编排与老版编排不兼容")
	require.NotContains(t, names, "set-system-variable/gateway-url-new", "GATEWAY_URL_NEW is for coexist only")
	last := steps[len(steps)-1]
	require.Equal(t, "stop-old/containers", last.Name)
	require.ElementsMatch(t, []string{"approve/replace-mode", "check-login/portal"}, last.Requires)
}

func TestWeCube400ValidateNamesEveryProblemByKey(t *testing.T) {
	in := wecubeExample(t)
	in.Mode = "both"
	in.HostIP = "wecube.example"
	in.DDL.WeCube.SHA256 = "abc"
	in.DDL.Auth.Path = "relative.sql"
	in.MySQL.Auth.PasswordRef = ""
	in.DeployRoot = "/data/wecube/new"
	in.Version = "v4.0.1"
	in.Waits.Interval = 0
	in.From = "v2.9.0"
	err := in.Validate()
	require.Error(t, err)
	for _, key := range []string{"mode", "hostIP", "ddl.wecube.sha256", "ddl.auth.path", "mysql.auth.passwordRef", "deployRoot", "wecubeVersion", "from"} {
		require.Contains(t, err.Error(), key)
	}

	in = wecubeExample(t)
	in.Mode = workflows.WeCubeModeReplace
	err = in.Validate()
	require.ErrorContains(t, err, "replace.oldContainers")
	require.ErrorContains(t, err, "sharedPluginInstances")
}

// The guide's four files, filled in by the worker, load with compose-go,
// and passwords with $, #, quotes and a / (which break the guide's sed)
// reach the containers as given.
func TestWeCube400ComposeFilesLoadWithHardSecrets(t *testing.T) {
	in := wecubeExample(t)
	steps, err := in.Plan()
	require.NoError(t, err)
	hard := `pa$$ #w"o'rd/&x`
	store := config.NewSecretStore(map[string]config.Secret{
		"wecube-jwt-signing-key": {Value: "Platform+Auth+Server+Secret"}, "wecube-mysql-wecube-password": {Value: hard},
		"wecube-mysql-auth-password": {Value: hard + "2"}, "wecube-s3-access": {Value: "access_key"}, "wecube-s3-secret": {Value: "s3: {secret}"},
		"wecube-host-password": {Value: "WeCube@1234"},
	})
	c := &activities.Compose{Secrets: store, Scrub: store}
	n := 0
	for _, s := range steps {
		if !strings.HasPrefix(s.Name, "preflight/compose-") {
			continue
		}
		n++
		res, err := c.ValidateCompose(context.Background(), s.Input.(activities.ComposeFileInput))
		require.NoError(t, err, s.Name)
		require.NotContains(t, res.Summary, hard)
		require.Contains(t, res.Container, "-v4.0.0")
	}
	require.Equal(t, 4, n)
	res, err := c.ValidateCompose(context.Background(), steps[slices.Index(stepNames(steps), "preflight/compose-core")].Input.(activities.ComposeFileInput))
	require.NoError(t, err)
	require.Equal(t, []string{"db_pass", "jwt_signing_key", "s3_access_key", "s3_secret_key", "static_resource_server_password"}, res.SecretKeys)
	require.Equal(t, []string{"10.0.0.1:8000:8000"}, res.Ports)
}
