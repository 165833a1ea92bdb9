package integration_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// bkSnapshot is what a preflight could change on the BlueKing lab: every
// file of every host (content, mode, mtime) and every table's checksum.
func bkSnapshot(t *testing.T, l *bkLab) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range append(l.site.Hosts, l.site.Control) {
		require.NoError(t, filepath.WalkDir(h.Root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			v := fmt.Sprintf("%s %s", info.Mode(), info.ModTime().UTC().Format("15:04:05.000000000"))
			if d.Type().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				v += " " + hex.EncodeToString(sum[:])
			}
			out["file "+p] = v
			return nil
		}))
	}
	db := l.sql(t)
	for _, table := range queryStrings(t, db, "SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.tables "+
		"WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')") {
		var name string
		var sum sql.NullInt64
		require.NoError(t, db.QueryRow("CHECKSUM TABLE "+table).Scan(&name, &sum))
		out["table "+table] = fmt.Sprint(sum.Int64, sum.Valid)
	}
	return out
}

// `starter preflight` on the BlueKing lab, whose hosts are reached over
// SSH: a good site passes, each host's key verified and fingerprinted;
// with a host key that is not the host's, a host whose key nobody vouched
// for, and a host that does not answer, each row names the problem and
// its fix. Nothing on the hosts or in MySQL changed.
func TestBlueKingPreflightVerifiesEveryHostKeyAndChangesNothing(t *testing.T) {
	l := newBKLab(t)
	startWorker(t, l.workerCfg)
	good := l.config(t, "lab")
	bk1, bk2, bk3 := l.site.Hosts[0], l.site.Hosts[1], l.site.Hosts[2]
	pinned := func(line string) string { return strings.SplitN(line, " ", 2)[1] }

	before := bkSnapshot(t, l)
	out := mustStarter(t, l.workerCfg, "preflight", "blueking-6.1-6.2", "-c", good)
	t.Logf("good site:\n%s", out)
	require.Contains(t, out, " 0 fail")
	for _, h := range append(l.site.Hosts, l.site.Control) {
		row := checkRow(t, out, "ssh", h.Name)
		require.Contains(t, row, "pass")
		require.Contains(t, row, "host key verified (ssh-ed25519 SHA256:")
		require.Contains(t, checkRow(t, out, "tool", h.Name), "pass")
	}

	// Planted: bk-1 pinned to bk-2's key (a reinstalled host, or another
	// one at its address), bk-3 with no key at all (nobody vouched for
	// it; the worker's known_hosts does not hold it), bk-2 at a port where
	// nothing listens.
	cfg := mustRead(t, good)
	cfg = strings.Replace(cfg, fmt.Sprintf("hostKey: %q", pinned(bk1.KnownHostLine)), fmt.Sprintf("hostKey: %q", pinned(bk2.KnownHostLine)), 1)
	cfg = strings.Replace(cfg, fmt.Sprintf("    hostKey: %q\n", pinned(bk3.KnownHostLine)), "", 1)
	cfg = strings.Replace(cfg, "address: "+bk2.Addr, "address: 127.0.0.1:1", 1)
	bad := writeFile(t, filepath.Join(l.root, "bad.yaml"), cfg)
	out, err := starter(t, l.workerCfg, "preflight", "blueking-6.1-6.2", "-c", bad)
	t.Logf("planted site:\n%s", out)
	require.Error(t, err)
	require.Contains(t, out, "checks failed; fix them")
	changed := checkRow(t, out, "ssh", "bk-1")
	require.Contains(t, changed, "fail")
	require.Contains(t, changed, "the host key does not match")
	require.Contains(t, changed, "stop: check with the host's owner whether it was reinstalled")
	unknown := checkRow(t, out, "ssh", "bk-3")
	require.Contains(t, unknown, "fail")
	require.Contains(t, unknown, "the host key is unknown")
	require.Contains(t, unknown, "add it to known_hosts (ssh-keyscan) or pin hostKey in the inventory")
	gone := checkRow(t, out, "ssh", "bk-2")
	require.Contains(t, gone, "fail")
	require.Contains(t, gone, "does not answer")
	require.Contains(t, gone, "check the inventory address, that sshd runs there, and the firewall")
	require.Contains(t, checkRow(t, out, "ssh", "bk-ctl"), "pass")

	after := bkSnapshot(t, l)
	require.Equal(t, before, after, "a preflight changed the site")
}
