package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/workflows"
	"upgrader/workflows/runbook"
)

// TestConfigRulesNameTheirKey is one case per rule of the config check: a
// config that breaks it is refused before any step, by a message that names
// the key and says what would be accepted.
func TestConfigRulesNameTheirKey(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(in *workflows.Choerodon021Input)
		key    string
		says   string
	}{
		{"secret template in a value", func(in *workflows.Choerodon021Input) { in.Domains.Front = `x{{ secret "c7n-db-root" }}` },
			"domains.front", "config values are data"},
		{"approver that is no name", func(in *workflows.Choerodon021Input) {
			in.Approvers = &runbook.Approvers{Destructive: []string{"dba", "x; rm"}}
		}, "approvers.destructive[1]", "is not a person's name"},
		{"approver twice", func(in *workflows.Choerodon021Input) {
			in.Approvers = &runbook.Approvers{Gates: map[string][]string{"approve/delete-old-releases": {"Pat", "pat"}}}
		}, "approvers.gates.approve/delete-old-releases[1]", "listed twice"},
		{"empty approver list", func(in *workflows.Choerodon021Input) { in.Approvers = &runbook.Approvers{Default: []string{}} },
			"approvers.default", "empty list"},
		{"user info in the API URL", func(in *workflows.Choerodon021Input) { in.API.URL = "https://api.lab@other.host/" },
			"api.url", "the request would go to other.host"},
		{"API URL not http", func(in *workflows.Choerodon021Input) { in.API.URL = "file:///etc/passwd" },
			"api.url", "only http:// and https://"},
		{"empty chart version", func(in *workflows.Choerodon021Input) { in.Versions = map[string]string{"hzero-iam": ""} },
			"versions.hzero-iam", "exact chart version"},
		{"chart version range", func(in *workflows.Choerodon021Input) { in.Versions = map[string]string{"hzero-iam": "^0.22"} },
			"versions.hzero-iam", "exact chart version"},
		{"two releases, one target", func(in *workflows.Choerodon021Input) { in.Releases = map[string]string{"agile-service": "hzero-iam"} },
			"releases.agile-service", "also the release of hzero-iam"},
		{"old release the guide upgrades", func(in *workflows.Choerodon021Input) { in.OldReleases = append(in.OldReleases, "hzero-iam") },
			"oldReleases[8]", "a release this guide upgrades"},
		{"bad regex", func(in *workflows.Choerodon021Input) { in.Probe.LogFailure = []string{"(unclosed"} },
			"probe.logFailure[0]", "not a regular expression"},
		{"failure patterns for a log nobody follows", func(in *workflows.Choerodon021Input) {
			in.Probe.LogFailureBy = map[string][]string{"knowledgebase-servce": {"Exception"}}
		}, "probe.logFailureBy.knowledgebase-servce", "a misspelt name would change nothing"},
		{"no failure pattern for the migration", func(in *workflows.Choerodon021Input) {
			in.Probe.LogFailureBy = map[string][]string{"data-migration": {}}
		}, "probe.logFailureBy.data-migration", "不能再继续升级"},
		{"bad regex for one log", func(in *workflows.Choerodon021Input) {
			in.Probe.LogFailureBy = map[string][]string{"devops-service": {"(unclosed"}}
		}, "probe.logFailureBy.devops-service[0]", "not a regular expression"},
		{"unknown update policy", func(in *workflows.Choerodon021Input) { in.KnowledgebasePreConfigUpdatePolicy = "replace" },
			"knowledgebasePreConfigUpdatePolicy", "one of not, add, override, update"},
		{"no failure patterns", func(in *workflows.Choerodon021Input) { in.Probe.LogFailure = nil },
			"probe.logFailure", "would not stop the run"},
		{"interval over the heartbeat", func(in *workflows.Choerodon021Input) { in.Probe.Interval = contract.Duration(time.Minute) },
			"probe.interval", "heartbeat"},
		{"timeout over a day", func(in *workflows.Choerodon021Input) { in.HelmTimeout = contract.Duration(48 * time.Hour) },
			"helmTimeout", "longer than a day"},
		{"reminder every second", func(in *workflows.Choerodon021Input) { in.GateRemindAfter = contract.Duration(time.Second) },
			"gateRemindAfter", "at least 5m0s"},
		{"from another version", func(in *workflows.Choerodon021Input) { in.From = "0.2" },
			"from", "upgrades from 0.21"},
		{"not a URL", func(in *workflows.Choerodon021Input) { in.EurekaURL = "not a url" },
			"eurekaURL", "only http:// and https://"},
		{"ingress host", func(in *workflows.Choerodon021Input) { in.Domains.API = "API_host" },
			"domains.api", "not a host name"},
		{"namespace", func(in *workflows.Choerodon021Input) { in.Namespace = "C7N" },
			"namespace", "not a namespace name"},
		{"db user", func(in *workflows.Choerodon021Input) { in.DB.User = "choerodon'; --" },
			"db.user", "not a MySQL name"},
		{"admin address port", func(in *workflows.Choerodon021Input) { in.DB.Admin.Address = "10.0.0.1:99999" },
			"db.admin.address", "not a port"},
		{"secret name", func(in *workflows.Choerodon021Input) { in.DB.PasswordRef = "a b" },
			"db.passwordRef", "not a secret name"},
		{"huge field", func(in *workflows.Choerodon021Input) { in.Redis.Host = strings.Repeat("a", 2400<<10) },
			"redis.host", "bytes; at most"},
		{"override of a key the guide sets", func(in *workflows.Choerodon021Input) {
			in.Values = map[string]map[string]any{"hzero-iam": {"preJob": map[string]any{"preInitDB": map[string]any{"datasource": map[string]any{"url": "jdbc:mysql://evil/"}}}}}
		}, "values.hzero-iam.preJob.preInitDB.datasource.url", "the guide sets"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c7n021Input()
			require.NoError(t, in.Validate(), "the base config is valid")
			c.mutate(&in)
			_, err := in.Plan()
			require.Error(t, err)
			require.Contains(t, err.Error(), c.key+":")
			require.Contains(t, err.Error(), c.says)
		})
	}
}

// TestDurationsNeedUnits: a bare number in a config is not read as
// nanoseconds.
func TestDurationsNeedUnits(t *testing.T) {
	path := t.TempDir() + "/c.yaml"
	require.NoError(t, writeFile(path, "probe:\n  timeout: 20\n"))
	in := workflows.NewChoerodon021Input()
	err := config.LoadUpgrade(path, "choerodon-0.21-0.22", &in)
	require.Error(t, err)
	require.Contains(t, err.Error(), "without a unit")
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func TestSecretNamesTheWorkerLacksAreFoundAtPlanTime(t *testing.T) {
	in := c7n021Input()
	err := workflows.CheckSecretsKnown(&in, func(name string) bool { return name != in.DB.Admin.PasswordRef })
	require.Error(t, err)
	require.Contains(t, err.Error(), "db.admin.passwordRef:")
	require.NoError(t, workflows.CheckSecretsKnown(&in, func(string) bool { return true }))
	require.Contains(t, workflows.SecretRefs(&in), "minio.secretKeyRef")
}

// TestEveryStepsActivityDeclaresItsOptions: each activity a guide's plan
// runs declares beside its code how often it heartbeats (contract.Declare),
// so no step gets a heartbeat timeout guessed per kind, and none goes
// without one.
func TestEveryStepsActivityDeclaresItsOptions(t *testing.T) {
	for _, g := range workflows.Guides() {
		in := g.NewInput()
		require.NoError(t, config.LoadUpgrade(filepath.Join("..", g.Example), g.Name, in))
		steps, err := in.Plan()
		require.NoError(t, err)
		for _, s := range steps {
			if s.Activity == nil {
				continue
			}
			o, ok := contract.Declared(s.Activity)
			require.True(t, ok, "%s: step %s runs %s, which declares no options (contract.Declare beside it)", g.Name, s.Name, contract.Name(s.Activity))
			// A worker that dies holding the step's task (handed to it
			// eagerly, before it even starts) is noticed at the heartbeat
			// timeout; without one, only at the try's limit.
			require.NotZero(t, o.Heartbeat, "%s: step %s runs %s, which declares no heartbeat timeout", g.Name, s.Name, contract.Name(s.Activity))
		}
	}
}

// TestConfigValuesReachHelmAsData: a config value with --set syntax in it
// (a comma, an =) is one value in the release's values, never parsed.
func TestConfigValuesReachHelmAsData(t *testing.T) {
	in := c7n08Input()
	in.MinIOURL = "http://minio.lab/files,preJob.preConfig.mysql.host=evil"
	steps, err := in.Plan()
	require.NoError(t, err)
	for _, s := range steps {
		if s.Name != "upgrade/choerodon-front" {
			continue
		}
		up := s.Input.(activities.HelmUpgradeInput)
		require.Empty(t, up.Set, "no --set strings")
		env := up.Values["env"].(map[string]any)["open"].(map[string]any)
		require.Equal(t, in.MinIOURL, env["PRO_FILE_SERVER"])
		require.NotContains(t, up.Values, "preJob")
		return
	}
	t.Fatal("no upgrade/choerodon-front step")
}
