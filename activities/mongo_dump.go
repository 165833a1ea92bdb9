package activities

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// MongoDumpInput is the guide's `mongodump --oplog --gzip --out DIR`.
type MongoDumpInput struct {
	DB MongoTarget `json:"db"`
	// Via is the host that runs mongodump (the guide: on the Mongo host).
	Via    SSHTarget `json:"via"`
	OutDir string    `json:"outDir"`
	Oplog  bool      `json:"oplog"`
	Gzip   bool      `json:"gzip"`
	// Tool is mongodump's path on the host; empty means "mongodump".
	Tool string `json:"tool,omitempty"`
}

// MongoDumpResult lists what the dump holds.
type MongoDumpResult struct {
	contract.Outcome
	Collections int `json:"collections"`
	// Path is the dump folder on the host; SHA256 is the SHA-256 of its
	// manifest (`sha256sum` of every file, sorted by path), which
	// VerifyBackup checks again.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Bytes is the size of every file of the dump together.
	Bytes int64 `json:"bytes"`
}

// mongodump of a real BlueKing CMDB takes minutes: the try heartbeats while
// the SSH command runs; a dead worker is noticed within 20 s.
var _ = contract.Declare((*Mongo).DumpMongo, contract.Options{Heartbeat: 20 * time.Second})

// DumpMongo runs mongodump on the host with the password in a --config file
// it reads from a pipe (never argv, never on disk), into this try's own
// folder next to OutDir, under a lock on OutDir that an earlier try of the
// same step loses (its processes are killed) and anyone else keeps. The
// folder must hold every collection of every database the server lists
// before it is moved into place (an older backup there is kept aside as
// OutDir.prev-<try>), made read-only and its manifest hashed.
func (m *Mongo) DumpMongo(ctx context.Context, in MongoDumpInput) (MongoDumpResult, error) {
	var res MongoDumpResult
	var p Progress
	err := whileHeartbeating(ctx, &p, func(ctx context.Context) error {
		var err error
		res, err = m.dump(ctx, in, &p)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("the dump to %s on %s was stopped (%v); the next try starts it again: %w", in.OutDir, in.Via, err, ctx.Err())
		}
		return err
	})
	return res, err
}

func (m *Mongo) dump(ctx context.Context, in MongoDumpInput, p *Progress) (MongoDumpResult, error) {
	if m.Host == nil {
		return MongoDumpResult{}, invalid("no SSH configured on this worker to reach %s", in.Via)
	}
	if !filepath.IsAbs(in.OutDir) || filepath.Clean(in.OutDir) == "/" {
		return MongoDumpResult{}, invalid("outDir %q must be an absolute folder path", in.OutDir)
	}
	in.OutDir = filepath.Clean(in.OutDir)
	p.Set(dumpProgress{Stage: "preflight"})
	pre, err := m.preflight(ctx, MongoPreflightInput{DB: in.DB, RequireOplog: in.Oplog})
	if err != nil {
		return MongoDumpResult{}, err
	}
	want, err := m.collections(ctx, in.DB, pre.Databases)
	if err != nil {
		return MongoDumpResult{}, err
	}
	if in.Oplog {
		want = append(want, "oplog")
	}
	tool := in.Tool
	if tool == "" {
		tool = "mongodump"
	}
	host, port, _ := strings.Cut(in.DB.Address, ":")
	args := []string{"--host", host}
	if port != "" {
		args = append(args, "--port", port)
	}
	secretEnv := map[string]string{}
	config := ""
	if in.DB.User != "" {
		src := in.DB.AuthSource
		if src == "" {
			src = "admin"
		}
		args = append(args, "-u", in.DB.User, "--authenticationDatabase", src)
		if in.DB.AuthMechanism != "" {
			args = append(args, "--authenticationMechanism", in.DB.AuthMechanism)
		}
		secretEnv["UPGRADER_MONGO_PASSWORD"] = in.DB.PasswordRef
		// mongodump reads the password from a YAML --config file; here a pipe.
		args = append(args, "--config=/dev/fd/3")
		config = "3<<UPGRADER_EOF\npassword: \"$mpw\"\nUPGRADER_EOF"
	}
	if in.Oplog {
		args = append(args, "--oplog")
	}
	if in.Gzip {
		args = append(args, "--gzip")
	}
	step, tag := tryTag(ctx)
	dir, base := filepath.Dir(in.OutDir), filepath.Base(in.OutDir)
	tmp := filepath.Join(dir, "."+base+"."+tag+".tmp")
	p.Set(dumpProgress{Stage: "dumping on " + in.Via.String(), Tmp: tmp})
	q := shellescape.Quote
	cmdline := q(tool) + " " + QuoteArgs(args) + ` --out "$tmp"`
	if config != "" {
		cmdline = `mpw=$(printf '%s' "$UPGRADER_MONGO_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')` + "\n" + cmdline + " " + config
	}
	script := remoteBackupPrologue(in.OutDir, step, tag) + fmt.Sprintf(`
tmp=%s
mkdir "$tmp"
%s
missing=
for c in %s; do
  [ -e "$tmp/$c.bson" ] || [ -e "$tmp/$c.bson.gz" ] || missing="$missing $c"
done
if [ -n "$missing" ]; then echo "UPGRADER-MISSING$missing"; rm -rf "$tmp"; exit 0; fi
if [ -e "$out" ]; then chmod -R u+w "$out"; mv "$out" "$out.prev-$me"; fi
mv "$tmp" "$out"
chmod -R a-w "$out"
cd "$out"
echo "UPGRADER-SHA256 $(find . -type f | LC_ALL=C sort | xargs -r sha256sum | sha256sum | cut -d' ' -f1)"
echo "UPGRADER-BYTES $(find . -type f -exec cat {} + | wc -c)"
`, q(tmp), cmdline, QuoteArgs(want))
	text, err := m.Host.capture(ctx, in.Via, script, secretEnv)
	if err != nil {
		if ctx.Err() != nil {
			return MongoDumpResult{}, ctx.Err()
		}
		if strings.Contains(text, "UPGRADER-LOCKED") {
			return MongoDumpResult{}, fmt.Errorf("%s on %s is being written by another dump (%s); wait for it, then retry",
				in.OutDir, in.Via, strings.TrimSpace(afterMarker(text, "UPGRADER-LOCKED")))
		}
		return MongoDumpResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"mongodump of %s on %s failed: %v", in.DB, in.Via, err), ErrDumpFailed, nil)
	}
	if failed := afterMarker(text, "Failed:"); failed != "" {
		return MongoDumpResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"mongodump of %s on %s printed Failed:%s", in.DB, in.Via, failed), ErrDumpFailed, nil)
	}
	out, err := parseRemoteBackup(text, &in.Via)
	if err != nil {
		return MongoDumpResult{}, err
	}
	if len(out.missing) > 0 {
		return MongoDumpResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump of %s on %s lacks %s: it is not a complete backup and was not put in place at %s; do not go on",
			in.DB, in.Via, strings.Join(out.missing, ", "), in.OutDir), ErrDumpIncomplete, nil)
	}
	n := len(want)
	if in.Oplog {
		n--
	}
	r := MongoDumpResult{Collections: n, Path: in.OutDir, SHA256: out.sha256, Bytes: out.bytes}
	r.Summary = fmt.Sprintf("%d collections of %d databases dumped to %s on %s, all present (%d bytes, read-only, manifest sha256 %s)",
		n, len(pre.Databases), in.OutDir, in.Via, out.bytes, out.sha256)
	r.Outputs = map[string]string{"path": r.Path, "sha256": r.SHA256, "bytes": strconv.FormatInt(r.Bytes, 10), "collections": strconv.Itoa(n)}
	return r, nil
}
