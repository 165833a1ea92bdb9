package integration_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/release"

	"upgrader/workflows/runbook"
)

// labSnapshot is everything a preflight could change on the lab: every etcd
// key with its revision (Kubernetes objects, Helm releases), every table's
// checksum, the accounts and the binary log position of MariaDB, and the
// worker's files (artifacts, charts).
type labSnapshot struct {
	Etcd  map[string]string
	DB    map[string]string
	Files map[string]string
}

// quietEtcd are keys that change by themselves (leader leases, events).
var quietEtcd = []string{"/registry/leases/", "/registry/events/", "/registry/masterleases/"}

func snapshotLab(t *testing.T, l *c7nLab, dirs ...string) labSnapshot {
	t.Helper()
	s := labSnapshot{Etcd: map[string]string{}, DB: map[string]string{}, Files: map[string]string{}}
	all := base64.StdEncoding.EncodeToString([]byte{0})
	body, _ := json.Marshal(map[string]any{"key": all, "range_end": all, "keys_only": true})
	resp, err := http.Post(l.cp.EtcdURL+"/v3/kv/range", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	var kv struct {
		KVs []struct {
			Key         string `json:"key"`
			ModRevision string `json:"mod_revision"`
		} `json:"kvs"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&kv))
	resp.Body.Close()
	require.NotEmpty(t, kv.KVs)
	for _, e := range kv.KVs {
		k, _ := base64.StdEncoding.DecodeString(e.Key)
		key := string(k)
		quiet := false
		for _, q := range quietEtcd {
			quiet = quiet || strings.HasPrefix(key, q)
		}
		if !quiet {
			s.Etcd[key] = e.ModRevision
		}
	}
	db := l.sql(t)
	var binlog []string
	rows, err := db.Query("SHOW MASTER STATUS")
	require.NoError(t, err)
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		binlog = append(binlog, string(vals[0])+":"+string(vals[1]))
	}
	rows.Close()
	s.DB["binlog"] = strings.Join(binlog, ",")
	s.DB["accounts"] = strings.Join(queryStrings(t, db, "SELECT CONCAT(user, '@', host, ' ', priv) FROM mysql.global_priv ORDER BY 1"), "\n")
	for _, table := range queryStrings(t, db, "SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.tables "+
		"WHERE table_schema NOT IN ('information_schema', 'performance_schema', 'sys') AND table_type = 'BASE TABLE' ORDER BY 1") {
		var name string
		var sum sql.NullInt64
		require.NoError(t, db.QueryRow("CHECKSUM TABLE "+table).Scan(&name, &sum))
		s.DB[table] = fmt.Sprint(sum.Int64)
	}
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			sum := info.Mode().String()
			if d.Type().IsRegular() {
				b, _ := os.ReadFile(p)
				h := sha256.Sum256(b)
				sum += " " + hex.EncodeToString(h[:]) + " " + info.ModTime().String()
			}
			s.Files[p] = sum
			return nil
		})
	}
	return s
}

// settledSnapshot waits until the lab is quiet (the seed's deployments
// rolled out: two snapshots a second apart are equal) and returns it.
func settledSnapshot(t *testing.T, l *c7nLab, dirs ...string) labSnapshot {
	t.Helper()
	prev := snapshotLab(t, l, dirs...)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		cur := snapshotLab(t, l, dirs...)
		if fmt.Sprint(cur) == fmt.Sprint(prev) {
			return cur
		}
		prev = cur
	}
	t.Fatal("the lab did not settle within a minute")
	return prev
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err, q)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	return out
}

// requireUnchanged names every key, table and file that differs.
func requireUnchanged(t *testing.T, before, after labSnapshot) {
	t.Helper()
	var diff []string
	cmp := func(what string, a, b map[string]string) {
		for k, v := range a {
			if b[k] != v {
				diff = append(diff, fmt.Sprintf("%s %s: %q → %q", what, k, v, b[k]))
			}
		}
		for k, v := range b {
			if _, ok := a[k]; !ok {
				diff = append(diff, fmt.Sprintf("%s %s: new (%q)", what, k, v))
			}
		}
	}
	cmp("etcd", before.Etcd, after.Etcd)
	cmp("db", before.DB, after.DB)
	cmp("file", before.Files, after.Files)
	sort.Strings(diff)
	require.Empty(t, diff, "a preflight changed the lab")
}

// checkRow finds the row of a check for a target in starter preflight's table.
func checkRow(t *testing.T, out, check, target string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == check && strings.HasPrefix(f[1], target) {
			return line
		}
	}
	t.Fatalf("no %s row for %s in:\n%s", check, target, out)
	return ""
}

// mountTmpfs mounts a tmpfs of size at dir: a real small disk. Empty when
// this machine may not mount one.
func mountTmpfs(t *testing.T, dir, size string) bool {
	require.NoError(t, os.MkdirAll(dir, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Logf("no tmpfs here (%v: %s); the small-disk case is covered by activities' TestPreflightMySQLNamesMissingGrantsAndASmallDisk", err, out)
		return false
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return true
}

func TestPreflightOnTheLabChangesNothingAndNamesEachProblem(t *testing.T) {
	l := newC7nLab(t)
	ns := "c7n-system"
	require.NoError(t, l.site.PackageC7N021(nil, 0))
	db := l.sql(t)
	require.NoError(t, l.site.SeedC7N021(ns, db, true))
	// An admin account without DDL and without what --master-data=2 needs.
	for _, q := range []string{"CREATE USER 'dumper'@'%' IDENTIFIED BY 'dumper-Pw-4471'",
		"GRANT SELECT, LOCK TABLES, SHOW VIEW, EVENT, TRIGGER ON *.* TO 'dumper'@'%'"} {
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
	cfgBytes, err := os.ReadFile(l.workerCfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(l.workerCfg, append(cfgBytes, []byte("  c7n-db-dumper: {value: dumper-Pw-4471}\n")...), 0o600))
	w := startWorker(t, l.workerCfg)
	good := c7n021Config(t, l, "lab", ns)
	require.NoError(t, os.MkdirAll(l.artifacts, 0o700))

	// A good site: every check passes, and nothing changed.
	before := settledSnapshot(t, l, l.artifacts, l.charts)
	out := mustStarter(t, l.workerCfg, "preflight", "choerodon-0.21-0.22", "-c", good)
	t.Logf("good site:\n%s", out)
	require.Contains(t, out, " 0 fail")
	require.Contains(t, checkRow(t, out, "release", "agile-service"), "pass")
	require.Contains(t, checkRow(t, out, "release", "base-service"), "chart 0.21.0")
	require.Contains(t, checkRow(t, out, "mysql-grant", "choerodon-mysql"), "pass")
	require.Contains(t, checkRow(t, out, "free-disk", l.artifacts), "pass")
	require.Contains(t, checkRow(t, out, "kube-access", "lab:"), "pass")
	require.Contains(t, checkRow(t, out, "secret", "db.admin.passwordRef"), "pass")
	requireUnchanged(t, before, snapshotLab(t, l, l.artifacts, l.charts))

	// Plant: base-service left at chart 0.20.3 (a revision written through
	// Helm's own storage, as a half-done earlier upgrade leaves it).
	h := l.helm(t, ns)
	last, err := h.Releases.Last("base-service")
	require.NoError(t, err)
	old := *last
	md := *last.Chart.Metadata
	md.Version = "0.20.3"
	ch := *last.Chart
	ch.Metadata = &md
	info := *last.Info
	old.Chart, old.Info, old.Version = &ch, &info, last.Version+1
	last.Info.Status = release.StatusSuperseded
	require.NoError(t, h.Releases.Update(last))
	require.NoError(t, h.Releases.Create(&old))

	// Plant: agile-service named agile at this site (it is not), and the
	// admin account without DDL grants.
	bad := writeFile(t, filepath.Join(l.root, "bad.yaml"), strings.Replace(
		strings.Replace(mustRead(t, good), "chartRepo: c7n\n", "chartRepo: c7n\nreleases: {agile-service: agile}\n", 1),
		"user: root, passwordRef: c7n-db-root", "user: dumper, passwordRef: c7n-db-dumper", 1))
	gone := writeFile(t, filepath.Join(l.root, "gone.yaml"), strings.Replace(mustRead(t, good), l.db.Addr, "127.0.0.1:1", 1))
	before = settledSnapshot(t, l, l.artifacts, l.charts)

	out, err = starter(t, l.workerCfg, "preflight", "choerodon-0.21-0.22", "-c", bad)
	t.Logf("planted site:\n%s", out)
	require.Error(t, err)
	require.Contains(t, out, "checks failed; fix them")
	agile := checkRow(t, out, "release", "agile")
	require.Contains(t, agile, "fail")
	require.Contains(t, agile, "not installed in lab/c7n-system (releases.agile-service: agile)")
	require.Contains(t, agile, "map it in the config (releases: {agile-service: <its name>})")
	base := checkRow(t, out, "release", "base-service")
	require.Contains(t, base, "chart 0.20.3, not at 0.21")
	require.Contains(t, base, `this site is not at from: "0.21"`)
	for _, priv := range []string{"CREATE", "ALTER", "DROP", "RELOAD", "REPLICATION CLIENT"} {
		require.Contains(t, out, "GRANT "+priv+" ON *.* TO 'dumper'@'%'", "the fix for %s", priv)
	}

	out, err = starter(t, l.workerCfg, "preflight", "choerodon-0.21-0.22", "-c", gone)
	t.Logf("MySQL unreachable:\n%s", out)
	require.Error(t, err)
	mysqlRow := checkRow(t, out, "mysql", "choerodon-mysql")
	require.Contains(t, mysqlRow, "fail")
	require.Contains(t, mysqlRow, "check db.admin.address, that MySQL runs there")

	// A disk too small for the dump: the worker's artifact folder on a
	// 16 KiB tmpfs (the lab's databases take 64 KiB and more).
	small := filepath.Join(l.root, "small-disk")
	if mountTmpfs(t, small, "16k") {
		w.kill(t)
		smallCfg := writeFile(t, filepath.Join(l.root, "worker-small.yaml"), strings.Replace(mustRead(t, l.workerCfg),
			"artifactDir: "+l.artifacts, "artifactDir: "+small, 1))
		w = startWorker(t, smallCfg)
		out, err = starter(t, smallCfg, "preflight", "choerodon-0.21-0.22", "-c", good)
		t.Logf("small disk:\n%s", out)
		require.Error(t, err)
		disk := checkRow(t, out, "free-disk", small)
		require.Contains(t, disk, "fail")
		require.Contains(t, disk, "point artifactDir at a larger disk")
		w.kill(t)
		w = startWorker(t, l.workerCfg)
	}
	requireUnchanged(t, before, snapshotLab(t, l, l.artifacts, l.charts))

	// The upgrade runs the same checks first: the missing release stops it
	// there, before any backup or delete (issue 15 item 9).
	id := runbook.WorkflowID("choerodon-0.21-0.22", "lab")
	mustStarter(t, l.workerCfg, "start", "choerodon-0.21-0.22", "-c", bad)
	eventually(t, time.Minute, "the run to pause at preflight/releases", func() bool {
		st := status(t, id)
		return st.State == runbook.RunFailedAwaiting && st.CurrentStep == "preflight/releases"
	})
	st := status(t, id)
	require.Contains(t, st.Step("preflight/releases").LastError, "agile")
	require.Equal(t, runbook.StepPending, st.Step("backup-db/mysql").State)
	require.Equal(t, 2, l.revisions(t, ns, "base-service"), "nothing deleted")
	mustStarter(t, l.workerCfg, "decide", id, "preflight/releases", "abort", "--comment", "fix the release names first")
	_ = w
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
