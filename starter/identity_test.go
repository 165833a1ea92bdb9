package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"upgrader/config"
	"upgrader/workflows/runbook"
)

// TestIdentityComesFromTheClientCertificateElseTheOSUser: with a client
// certificate in temporal.tls the starter answers as its subject, verified;
// without, as the OS user, unverified.
func TestIdentityComesFromTheClientCertificateElseTheOSUser(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		Subject: pkix.Name{CommonName: "alice", Organization: []string{"ops"}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	certFile := filepath.Join(t.TempDir(), "alice.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))

	cfg := config.Defaults()
	cfg.Temporal.TLS = config.TLS{Enabled: true, CertFile: certFile, KeyFile: certFile}
	who, err := identity(cfg)
	require.NoError(t, err)
	require.Equal(t, runbook.Identity{Name: "alice", Subject: "CN=alice,O=ops", Source: runbook.IdentityMTLS, Verified: true}, who)
	require.Equal(t, "alice (mTLS CN=alice,O=ops)", who.String())

	t.Setenv("USER", "bob")
	who, err = identity(config.Defaults())
	require.NoError(t, err)
	require.Equal(t, runbook.Identity{Name: "bob", Source: runbook.IdentityOSUser}, who)
	require.Equal(t, "bob (OS user, unverified)", who.String())
}

// TestAnswersWithoutAReasonAreRefusedBeforeSending: skip, abort and reject
// need --comment, --ack goes with skip; the starter says so without
// reaching any server (none runs here).
func TestAnswersWithoutAReasonAreRefusedBeforeSending(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"decide", "upgrade/demo/lab", "wait-up/x", "skip"}, "skip needs a comment saying why (--comment)"},
		{[]string{"decide", "upgrade/demo/lab", "wait-up/x", "abort", "--comment", " "}, "abort needs a comment"},
		{[]string{"decide", "upgrade/demo/lab", "wait-up/x", "retry", "--ack", "db-backup"}, "--ack goes with skip only"},
		{[]string{"approve", "upgrade/demo/lab", "approve/x", "--reject"}, "a rejection needs a comment"},
		{[]string{"approve", "upgrade/demo/lab", "approve/x", "--by", "mallory"}, "unknown flag: --by"},
	} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"--address", "127.0.0.1:1"}, c.args...))
		err := root.Execute()
		require.Error(t, err, c.args)
		require.Contains(t, err.Error(), c.says)
	}
}

// TestGuidesCoverage prints, for every guide, its sections and how they are
// carried out, and every one at 100%.
func TestGuidesCoverage(t *testing.T) {
	t.Chdir("..") // example configs are named from the repository's folder
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"guides", "--coverage", "--sections"})
	require.NoError(t, root.Execute())
	require.Regexp(t, `(?m)^choerodon-0\.21-0\.22\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+100%\s+0$`, out.String())
	require.Regexp(t, `(?m)^1\.6\s+data migration, and its log 「数据迁移」\s+automated\s+install/data-migration, follow-log/data-migration$`, out.String())
	require.NotContains(t, out.String(), "missing")
}
