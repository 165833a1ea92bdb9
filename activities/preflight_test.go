package activities_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"upgrader/activities"
	"upgrader/config"
	"upgrader/internal/contract"
	"upgrader/tests/lab"
)

// preflightRows runs a preflight activity and returns its rows, from its
// result or, when a row failed, from the failure's details.
func preflightRows(t *testing.T, env *testsuite.TestActivityEnvironment, fn, in any) ([]contract.Check, error) {
	t.Helper()
	val, err := env.ExecuteActivity(fn, in)
	var out contract.Outcome
	if err == nil {
		require.NoError(t, val.Get(&out))
		return out.Checks, nil
	}
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, contract.ErrPrecondition, app.Type(), "%v", err)
	require.NoError(t, app.Details(&out))
	return out.Checks, err
}

func row(t *testing.T, checks []contract.Check, check, target string) contract.Check {
	t.Helper()
	for _, c := range checks {
		if c.Check == check && strings.Contains(c.Target, target) {
			return c
		}
	}
	t.Fatalf("no %s row for %s in %+v", check, target, checks)
	return contract.Check{}
}

func TestPreflightHostsVerifyHostKeysAndTools(t *testing.T) {
	sshd := lab.StartSSHD(t)
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(known, []byte(sshd.KnownHostLine+"\n"), 0o600))
	other := filepath.Join(dir, "other_known_hosts")
	require.NoError(t, os.WriteFile(other, []byte("[10.9.9.9]:22 "+strings.SplitN(sshd.KnownHostLine, " ", 2)[1]+"\n"), 0o600))
	secrets := config.NewSecretStore(map[string]config.Secret{"lab-key": {Value: sshd.ClientKeyPEM}})
	var s testsuite.WorkflowTestSuite
	target := activities.SSHTarget{Name: "db-host", Address: sshd.Addr, User: sshd.User, KeyRef: "lab-key"}

	p := &activities.Preflight{Secrets: secrets, Scrub: secrets, KnownHostsFiles: []string{known}}
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(p)
	checks, err := preflightRows(t, env, p.CheckHosts, activities.HostsCheckInput{Hosts: []activities.SSHTarget{target}, Tools: []string{"sh", "no-such-tool-x"}})
	require.Error(t, err, "a missing tool fails")
	ssh := row(t, checks, "ssh", "db-host")
	require.Equal(t, contract.Pass, ssh.Result)
	require.Contains(t, ssh.Found, "host key verified (ssh-ed25519 SHA256:")
	require.Equal(t, contract.Pass, row(t, checks, "tool", ": sh").Result)
	missing := row(t, checks, "tool", "no-such-tool-x")
	require.Equal(t, contract.Fail, missing.Result)
	require.Contains(t, missing.Fix, "install no-such-tool-x on the host")

	// A host whose key no known_hosts holds: named, with how to add it;
	// the key is never trusted on first use.
	p2 := &activities.Preflight{Secrets: secrets, Scrub: secrets, KnownHostsFiles: []string{other}}
	env2 := s.NewTestActivityEnvironment()
	env2.RegisterActivity(p2)
	closed := activities.SSHTarget{Name: "gone-host", Address: "127.0.0.1:1", User: sshd.User, KeyRef: "lab-key"}
	checks, err = preflightRows(t, env2, p2.CheckHosts, activities.HostsCheckInput{Hosts: []activities.SSHTarget{target, closed}})
	require.Error(t, err)
	unknown := row(t, checks, "ssh", "db-host")
	require.Equal(t, contract.Fail, unknown.Result)
	require.Contains(t, unknown.Found, "the host key is unknown")
	require.Contains(t, unknown.Found, "ssh-keyscan")
	require.Contains(t, unknown.Fix, "verify the host's fingerprint with its owner")
	gone := row(t, checks, "ssh", "gone-host")
	require.Equal(t, contract.Fail, gone.Result)
	require.Contains(t, gone.Found, "does not answer")
	require.Contains(t, gone.Fix, "that sshd runs there")
}

func TestPreflightMySQLNamesMissingGrantsAndASmallDisk(t *testing.T) {
	f := newDBFixture(t)
	f.sql(t, "CREATE DATABASE IF NOT EXISTS pf_app")
	f.sql(t, "CREATE TABLE IF NOT EXISTS pf_app.t (id INT PRIMARY KEY, v VARCHAR(200))")
	f.sql(t, "CREATE USER 'dumper'@'%' IDENTIFIED BY 'c7n-User-pw-2209'")
	f.sql(t, "GRANT SELECT, LOCK TABLES, SHOW VIEW, EVENT, TRIGGER ON *.* TO 'dumper'@'%'")
	free := uint64(1 << 40)
	p := &activities.Preflight{Secrets: f.store, Scrub: f.store, ArtifactDir: t.TempDir(),
		FreeBytes: func(string) (uint64, error) { return free, nil }}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(p)
	privs := []activities.PrivilegeNeed{{Privilege: "CREATE", Why: "CREATE DATABASE"}, {Privilege: "ALTER", Why: "DDL"},
		{Privilege: "RELOAD", Why: "--master-data=2"}, {Privilege: "REPLICATION CLIENT", Why: "--master-data=2"}, {Privilege: "SELECT", Why: "mysqldump"}}

	checks, err := preflightRows(t, env, p.CheckMySQL, activities.MySQLCheckInput{DB: f.root, Privileges: privs, Backup: true})
	require.NoError(t, err, "%+v", checks)
	require.Equal(t, contract.Pass, row(t, checks, "free-disk", "").Result)

	dumper := activities.DBTarget{Name: "c7n-mysql", Address: f.maria.Addr, User: "dumper", PasswordRef: "c7n-pw"}
	checks, err = preflightRows(t, env, p.CheckMySQL, activities.MySQLCheckInput{DB: dumper, Privileges: privs, Backup: true})
	require.Error(t, err)
	require.Contains(t, err.Error(), "nothing was changed")
	for _, priv := range []string{"CREATE", "ALTER", "RELOAD", "REPLICATION CLIENT"} {
		var c contract.Check
		for _, x := range checks {
			if x.Check == "mysql-grant" && strings.HasPrefix(x.Found, "no "+priv+" ") {
				c = x
			}
		}
		require.Equal(t, contract.Fail, c.Result, "%s: %+v", priv, checks)
		require.Contains(t, c.Fix, "GRANT "+priv+" ON *.* TO 'dumper'@'%'")
	}

	// The disk the dump goes to has less room than the databases take.
	free = 4096
	checks, err = preflightRows(t, env, p.CheckMySQL, activities.MySQLCheckInput{DB: f.root, Privileges: privs[:1], Backup: true})
	require.Error(t, err)
	disk := row(t, checks, "free-disk", "")
	require.Equal(t, contract.Fail, disk.Result)
	require.Contains(t, disk.Found, "4.0 KiB free")
	require.Contains(t, disk.Fix, "point artifactDir at a larger disk")

	// Unreachable: a port nobody listens on.
	gone := activities.DBTarget{Name: "c7n-mysql", Address: "127.0.0.1:1", User: "root", PasswordRef: "root-pw"}
	checks, err = preflightRows(t, env, p.CheckMySQL, activities.MySQLCheckInput{DB: gone})
	require.Error(t, err)
	require.Contains(t, row(t, checks, "mysql", "127.0.0.1:1").Fix, "that MySQL runs there")
}

func TestPreflightKubeClientRefusesWrites(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"SecretList","apiVersion":"v1","items":[]}`))
	}))
	defer srv.Close()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "+srv.URL+"}\n"+
		"users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"), 0o600))
	rest, err := activities.PreflightKubeClientForTest(&activities.Preflight{Clusters: map[string]activities.Cluster{"c": {Kubeconfig: kc}}}, "c")
	require.NoError(t, err)
	_, err = rest.CoreV1().Secrets("ns").List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	err = rest.CoreV1().Secrets("ns").Delete(t.Context(), "x", metav1.DeleteOptions{})
	require.ErrorContains(t, err, "preflight is read-only and refused DELETE /api/v1/namespaces/ns/secrets/x")
	require.Equal(t, []string{"GET /api/v1/namespaces/ns/secrets"}, got, "the delete never left the worker")
}
