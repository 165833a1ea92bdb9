package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
)

func TestInventoryByModule(t *testing.T) {
	inv := config.Inventory{
		"bk-1": {Address: "10.0.0.1", User: "root", KeyRef: "bk-key", Modules: []string{"iam", "ssm", "monitorv3(influxdb-proxy)"}},
		"bk-2": {Address: "10.0.0.2", User: "root", KeyRef: "bk-key", Modules: []string{"nginx", "mongodb"}},
		"bk-3": {Address: "10.0.0.3:2222", User: "root", KeyRef: "bk-key", Modules: []string{"cmdb", "job", "mysql"}},
	}
	var p config.Problems
	inv.Validate("hosts", &p)
	require.NoError(t, p.Err())
	hosts, err := inv.WithModule("mysql")
	require.NoError(t, err)
	require.Equal(t, []string{"bk-3"}, hosts)
	_, err = inv.WithModule("redis_cluster")
	require.ErrorContains(t, err, `no host in the inventory runs "redis_cluster" (modules present: cmdb, iam, job, mongodb, monitorv3(influxdb-proxy), mysql, nginx, ssm)`)

	bad := config.Inventory{"x": {Address: ":22", Modules: []string{"My SQL"}}}
	p = nil
	bad.Validate("hosts", &p)
	err = p.Err()
	for _, want := range []string{`hosts.x.address: ":22" has no host`, "hosts.x.user: is empty", "hosts.x.keyRef: is empty", `hosts.x.modules: "My SQL" is not a module name`} {
		require.ErrorContains(t, err, want)
	}
}
