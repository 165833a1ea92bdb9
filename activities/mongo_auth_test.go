package activities_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
	"upgrader/config"
)

// The password reaches mongodump only through its --config file, never argv.
// FerretDB accepts PLAIN (not SCRAM), which is enough to drive the driver's
// authenticated path and the command construction.
func TestMongoDumpPassesThePasswordInAConfigFile(t *testing.T) {
	srv := startFerretDBForAuth(t)
	colls := seedMongo(t, srv)
	f := newHostFixture(t)
	store := config.NewSecretStore(map[string]config.Secret{"lab-key": {Value: f.sshd.ClientKeyPEM}, "mongo-admin": {Value: `Mongo"pw\with-quotes`}})
	f.host.Secrets, f.host.Scrub = store, store
	m := &activities.Mongo{Secrets: store, Scrub: store, Host: f.host}
	f.env.RegisterActivity(m)
	tool, argsFile, cfgFile := stubMongodump(t, colls)
	_, err := f.env.ExecuteActivity(m.DumpMongo, activities.MongoDumpInput{
		DB:  activities.MongoTarget{Name: "bk-mongodb", Address: srv, User: "bkadmin", PasswordRef: "mongo-admin", AuthMechanism: "PLAIN"},
		Via: f.target, OutDir: filepath.Join(t.TempDir(), "bak"), Tool: tool})
	require.NoError(t, err)
	args, _ := os.ReadFile(argsFile)
	require.NotContains(t, string(args), "with-quotes")
	require.Contains(t, string(args), "-u\nbkadmin\n--authenticationDatabase\nadmin\n--authenticationMechanism\nPLAIN\n--config=")
	cfg, _ := os.ReadFile(cfgFile)
	require.Equal(t, "password: \"Mongo\\\"pw\\\\with-quotes\"\n", string(cfg))
}
