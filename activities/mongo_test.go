package activities_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/testsuite"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/tests/lab"
)

// seedMongo writes a few of BlueKing's collections.
func seedMongo(t *testing.T, addr string) []string {
	c, err := mongo.Connect(options.Client().SetHosts([]string{addr}).SetDirect(true))
	require.NoError(t, err)
	defer func() { _ = c.Disconnect(context.Background()) }()
	colls := []string{"cmdb/cc_HostBase", "cmdb/cc_ObjectBase", "joblog/job_log_script"}
	for _, dc := range colls {
		db, coll, _ := strings.Cut(dc, "/")
		_, err := c.Database(db).Collection(coll).InsertOne(context.Background(), bson.D{{Key: "bk_host_id", Value: 1}})
		require.NoError(t, err)
	}
	return colls
}

func TestMongoPreflightAgainstAWireProtocolServer(t *testing.T) {
	srv := lab.StartFerretDB(t)
	seedMongo(t, srv.Addr)
	m := &activities.Mongo{Secrets: config.NewSecretStore(nil)}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(m)
	val, err := env.ExecuteActivity(m.PreflightMongo, activities.MongoPreflightInput{DB: activities.MongoTarget{Name: "bk-mongodb", Address: srv.Addr}})
	require.NoError(t, err)
	var res activities.MongoPreflightResult
	require.NoError(t, val.Get(&res))
	require.Contains(t, res.Databases, "cmdb")
	require.Contains(t, res.Databases, "joblog")
	require.NotEmpty(t, res.Version)

	// The guide's mongodump --oplog needs a replica set: said clearly.
	// (The positive oplog path cannot run here: FerretDB has no replica set.)
	_, err = env.ExecuteActivity(m.PreflightMongo, activities.MongoPreflightInput{DB: activities.MongoTarget{Name: "bk-mongodb", Address: srv.Addr}, RequireOplog: true})
	app := appErr(t, err)
	require.Equal(t, "Precondition", app.Type())
	require.Contains(t, app.Message(), "is not a replica-set member with an oplog")

	_, err = env.ExecuteActivity(m.PreflightMongo, activities.MongoPreflightInput{DB: activities.MongoTarget{Address: "127.0.0.1:1"}})
	require.ErrorContains(t, err, "unable to reach mongo server")
}

// stubMongodump writes a script standing in for mongodump (not installable
// here): it records its arguments and its --config file, and writes one
// .bson.gz per collection listed in the file next to it.
func stubMongodump(t *testing.T, collections []string) (tool, argsFile, cfgFile string) {
	dir := t.TempDir()
	tool, argsFile, cfgFile = filepath.Join(dir, "mongodump"), filepath.Join(dir, "args"), filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "collections"), []byte(strings.Join(collections, "\n")+"\n"), 0o600))
	require.NoError(t, os.WriteFile(tool, []byte(fmt.Sprintf(`#!/bin/sh
printf '%%s\n' "$@" > %[1]s
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    --config=*) cat "${1#--config=}" > %[2]s ;;
  esac
  shift
done
while read -r c; do
  [ -n "$c" ] || continue
  mkdir -p "$out/$(dirname "$c")" && echo x | gzip > "$out/$c.bson.gz"
done < %[3]s
echo "done dumping"
`, argsFile, cfgFile, filepath.Join(dir, "collections"))), 0o700))
	return tool, argsFile, cfgFile
}

func TestMongoDumpOverSSHIsVerifiedAgainstTheServer(t *testing.T) {
	srv := lab.StartFerretDB(t)
	colls := seedMongo(t, srv.Addr)
	f := newHostFixture(t)
	m := &activities.Mongo{Secrets: f.host.Secrets, Scrub: f.host.Scrub, Host: f.host}
	f.env.RegisterActivity(m)

	tool, argsFile, _ := stubMongodump(t, colls)
	out := filepath.Join(t.TempDir(), "mongodb_bak")
	val, err := f.env.ExecuteActivity(m.DumpMongo, activities.MongoDumpInput{DB: activities.MongoTarget{Name: "bk-mongodb", Address: srv.Addr},
		Via: f.target, OutDir: out, Gzip: true, Tool: tool})
	require.NoError(t, err)
	var res activities.MongoDumpResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, 3, res.Collections)
	args, _ := os.ReadFile(argsFile)
	// mongodump writes this try's own folder next to the destination,
	// which is moved into place only once every collection is there.
	require.Regexp(t, fmt.Sprintf("^--host\n127.0.0.1\n--port\n%s\n--gzip\n--out\n%s\n$",
		strings.Split(srv.Addr, ":")[1], regexp.QuoteMeta(filepath.Join(filepath.Dir(out), ".mongodb_bak."))+`[^/]+-a1\.tmp`), string(args))
	require.Equal(t, out, res.Path)
	require.FileExists(t, filepath.Join(out, "cmdb", "cc_HostBase.bson.gz"))
	st, err := os.Stat(filepath.Join(out, "cmdb", "cc_HostBase.bson.gz"))
	require.NoError(t, err)
	require.Zero(t, st.Mode().Perm()&0o222, "the dump is read-only")
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".mongodb_bak.*"))
	require.Empty(t, leftovers)

	// Before a destructive step, the backup is hashed again: the manifest
	// computed on the worker matches the one sha256sum made on the host.
	mysqlA := &activities.MySQL{Secrets: f.host.Secrets, Host: f.host}
	f.env.RegisterActivity(mysqlA)
	for _, via := range []*activities.SSHTarget{&f.target, nil} {
		_, err = f.env.ExecuteActivity(mysqlA.VerifyBackup, activities.VerifyBackupInput{Path: out, SHA256: res.SHA256, Via: via})
		require.NoError(t, err)
	}
	require.NoError(t, os.Chmod(filepath.Join(out, "cmdb"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(out, "cmdb", "late.bson"), []byte("x"), 0o600))
	_, err = f.env.ExecuteActivity(mysqlA.VerifyBackup, activities.VerifyBackupInput{Path: out, SHA256: res.SHA256, Via: &f.target})
	require.Equal(t, activities.ErrBackupChanged, appErr(t, err).Type())

	// A dump that lacks a collection the server has is not a backup.
	tool, _, _ = stubMongodump(t, colls[:2])
	_, err = f.env.ExecuteActivity(m.DumpMongo, activities.MongoDumpInput{DB: activities.MongoTarget{Name: "bk-mongodb", Address: srv.Addr},
		Via: f.target, OutDir: filepath.Join(t.TempDir(), "bak2"), Gzip: true, Tool: tool})
	app := appErr(t, err)
	require.Equal(t, activities.ErrDumpIncomplete, app.Type())
	require.Contains(t, app.Message(), "lacks joblog/job_log_script")
	require.Contains(t, app.Message(), "was not put in place")
}

func startFerretDBForAuth(t *testing.T) string { return lab.StartFerretDB(t).Addr }
