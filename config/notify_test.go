package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
)

func TestWebhooksAndMetricsAreCheckedByKey(t *testing.T) {
	p := write(t, `
metrics:
  address: nohost
secrets:
  ding: {value: "http://x/robot/send?access_token=t"}
notify:
  - name: ops
    format: dingtalk
    urlRef: ding
    events: [gate-waiting, run-ended]
  - name: OPS
    format: teams
    url: "http://hooks.example/x?token=abc"
    signRef: nope
    events: [started]
  - format: slack
  - name: both
    format: json
    url: http://a/b
    urlRef: ding
`)
	_, err := config.LoadWorker(p)
	require.Error(t, err)
	for _, want := range []string{
		`metrics.address: "nohost" has no port`,
		`notify[1].name: "OPS" is used twice`,
		`notify[1].format: "teams" is not one of json, dingtalk, wecom, feishu, slack`,
		"notify[1].url: has a query (a token?); put the whole URL into a secret and name it with urlRef",
		`notify[1].signRef: "nope" is not among secrets`,
		`notify[1].events[0]: "started" is not one of gate-waiting, decision-needed, run-ended`,
		"notify[2].name: is empty",
		"notify[2]: set urlRef (a secret holding the URL with its token) or url",
		"notify[3]: set urlRef",
	} {
		require.Contains(t, err.Error(), want)
	}
	require.NotContains(t, err.Error(), "notify[0]")
}
