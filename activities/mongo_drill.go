package activities

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// MongoDrillInput names a mongodump folder a dump step made on a host, the
// manifest SHA-256 it recorded, and the server it was dumped from.
type MongoDrillInput struct {
	Path   string      `json:"path"`
	SHA256 string      `json:"sha256"`
	Via    SSHTarget   `json:"via"`
	DB     MongoTarget `json:"db"`
}

// MongoDrillResult is what reading and restoring the dump showed.
type MongoDrillResult struct {
	contract.Outcome
	SHA256      string   `json:"sha256"`
	Bytes       int64    `json:"bytes"`
	Collections int      `json:"collections"`
	Documents   int      `json:"documents"`
	Scratch     []string `json:"scratch"`
	SourceNote  string   `json:"sourceNote"`
}

// Copying, reading and restoring a big CMDB dump takes minutes: heartbeat.
var _ = contract.Declare((*Mongo).DrillMongo, contract.Options{Heartbeat: 20 * time.Second})

// DrillMongo proves a mongodump folder restores. mongorestore is not there
// to do it (nor on every Mongo host), so the drill does what it does with
// the driver: the folder is copied from its host to the worker (tar over
// SSH) and its manifest SHA-256 checked against the recorded one; every
// <db>/<collection>.bson[.gz] is read document by document (mongodump's
// format: BSON documents back to back, each led by its int32 length; a
// document cut short or invalid fails the drill); the documents are
// inserted into scratch databases on the same server
// (upgrader_verify_<run>_<n>, dropped before, after and by a retry) and
// counted there; the source's collections are counted too (a difference is
// reported: the platform writes until its services stop). Indexes
// (metadata.json) are not restored: the drill proves the data.
func (m *Mongo) DrillMongo(ctx context.Context, in MongoDrillInput) (MongoDrillResult, error) {
	if !filepath.IsAbs(in.Path) || len(in.SHA256) != 64 {
		return MongoDrillResult{}, invalid("mongo restore drill: path %q must be absolute and sha256 %q 64 hex digits", in.Path, in.SHA256)
	}
	if m.Host == nil {
		return MongoDrillResult{}, invalid("no SSH configured on this worker to reach %s", in.Via)
	}
	var res MongoDrillResult
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		res, err = m.drill(ctx, in)
		return err
	})
	return res, err
}

func (m *Mongo) drill(ctx context.Context, in MongoDrillInput) (MongoDrillResult, error) {
	var res MongoDrillResult
	local, err := os.MkdirTemp("", "upgrader-mongo-drill-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(local)
	if err := m.fetchFolder(ctx, in, local); err != nil {
		return res, err
	}
	sum, _, err := backupDigest(local)
	if err != nil {
		return res, err
	}
	res.SHA256 = sum
	if !strings.EqualFold(sum, in.SHA256) {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump %s on %s has manifest sha256 %s, not the %s its dump recorded: it changed after it was checked; do not go on: make a new backup: abort this run and start it again (a new run dumps again)",
			in.Path, in.Via, sum, in.SHA256), ErrBackupChanged, nil, res)
	}

	// What the dump holds: db → collection → file.
	files := map[string]map[string]string{}
	err = filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if st, err := d.Info(); err == nil {
			res.Bytes += st.Size()
		}
		rel, _ := filepath.Rel(local, p)
		db, name, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if !ok || strings.Contains(name, "/") {
			return nil // oplog.bson at the top, nothing deeper
		}
		coll, ok := strings.CutSuffix(strings.TrimSuffix(name, ".gz"), ".bson")
		if !ok || strings.HasPrefix(coll, "system.") {
			return nil
		}
		if files[db] == nil {
			files[db] = map[string]string{}
		}
		files[db][coll] = p
		return nil
	})
	if err != nil {
		return res, err
	}
	dbs := make([]string, 0, len(files))
	for db := range files {
		dbs = append(dbs, db)
	}
	sort.Strings(dbs)
	if len(dbs) == 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump %s on %s holds no collection; do not go on: make a new backup: abort this run and start it again (a new run dumps again)", in.Path, in.Via), ErrBackupUnusable, nil, res)
	}

	c, err := m.connect(ctx, in.DB)
	if err != nil {
		return res, err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	prefix := "upgrader_verify_local"
	if activity.IsActivity(ctx) {
		run := strings.ReplaceAll(activity.GetInfo(ctx).WorkflowExecution.RunID, "-", "")
		prefix = "upgrader_verify_" + run[:min(12, len(run))]
	}
	for i := range dbs {
		res.Scratch = append(res.Scratch, fmt.Sprintf("%s_%d", prefix, i+1))
	}
	drop := func(ctx context.Context) error {
		for _, n := range res.Scratch {
			if err := c.Database(n).Drop(ctx); err != nil {
				return fmt.Errorf("unable to drop the scratch database %s on %s: %w", n, in.DB, err)
			}
		}
		return nil
	}
	if err := drop(ctx); err != nil {
		return res, err
	}
	defer func() {
		// Dropped even when the try is cancelled: a fresh, bounded context.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = drop(ctx)
	}()

	var problems, drift []string
	for i, db := range dbs {
		colls := make([]string, 0, len(files[db]))
		for coll := range files[db] {
			colls = append(colls, coll)
		}
		sort.Strings(colls)
		for _, coll := range colls {
			scratch := c.Database(res.Scratch[i]).Collection(coll)
			n, err := readBSONFile(files[db][coll], func(batch []any) error {
				_, err := scratch.InsertMany(ctx, batch)
				return err
			})
			if err != nil {
				var bad *badDumpError
				if errors.As(err, &bad) {
					problems = append(problems, fmt.Sprintf("%s.%s: %v", db, coll, err))
					continue
				}
				return res, fmt.Errorf("unable to restore %s.%s into %s on %s: %w", db, coll, res.Scratch[i], in.DB, err)
			}
			got, err := scratch.CountDocuments(ctx, bson.D{})
			if err != nil {
				return res, fmt.Errorf("unable to count the restored %s.%s on %s: %w", db, coll, in.DB, err)
			}
			if int(got) != n {
				problems = append(problems, fmt.Sprintf("%s.%s restored %d of the dump's %d documents", db, coll, got, n))
			}
			res.Collections++
			res.Documents += n
			src, err := c.Database(db).Collection(coll).CountDocuments(ctx, bson.D{})
			if err != nil {
				return res, fmt.Errorf("unable to count the source %s.%s on %s: %w", db, coll, in.DB, err)
			}
			if int(src) != n {
				drift = append(drift, fmt.Sprintf("%s.%s %+d", db, coll, int(src)-n))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the dump %s on %s does not restore what it holds: %s; do not go on: make a new backup: abort this run and start it again (a new run dumps again)",
			in.Path, in.Via, strings.Join(problems, "; ")), ErrBackupUnusable, nil, res)
	}
	res.SourceNote = "the source holds the same documents"
	if len(drift) > 0 {
		sort.Strings(drift)
		res.SourceNote = fmt.Sprintf("the source has changed since the dump (documents: %s): services still write; the dump is what was there when it ran",
			strings.Join(drift[:min(10, len(drift))], ", "))
	}
	res.Summary = fmt.Sprintf("backup verified: %d collections, %d documents, sha256 %s (%d bytes); copied from %s, restored into %s on %s and dropped; %s",
		res.Collections, res.Documents, res.SHA256, res.Bytes, in.Via, strings.Join(res.Scratch, ", "), in.DB, res.SourceNote)
	res.Outputs = map[string]string{"sha256": res.SHA256, "bytes": fmt.Sprint(res.Bytes),
		"collections": fmt.Sprint(res.Collections), "documents": fmt.Sprint(res.Documents)}
	return res, nil
}

// fetchFolder copies the dump folder from its host into dir (tar over SSH,
// regular files and folders only).
func (m *Mongo) fetchFolder(ctx context.Context, in MongoDrillInput, dir string) error {
	tarPath := filepath.Join(dir, ".dump.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	err = m.Host.stream(ctx, in.Via, "cd "+shellescape.Quote(in.Path)+" && tar -cf - .", f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unable to copy %s from %s to the worker for the restore drill: %w", in.Path, in.Via, err)
	}
	defer os.Remove(tarPath)
	f, err = os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unable to read the copy of %s: %w", in.Path, err)
		}
		name := filepath.Clean(h.Name)
		if name == "." {
			continue
		}
		if filepath.IsAbs(name) || strings.HasPrefix(name, "..") {
			return fmt.Errorf("the copy of %s names %q, outside the folder", in.Path, h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// badDumpError: the file is not what mongodump writes.
type badDumpError struct{ msg string }

func (e *badDumpError) Error() string { return e.msg }

// readBSONFile reads a mongodump collection file (.bson, or .bson.gz with
// --gzip) document by document and hands them to insert in batches. It
// returns the number of documents.
func readBSONFile(path string, insert func([]any) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return 0, &badDumpError{fmt.Sprintf("not gzip: %v", err)}
		}
		defer gz.Close()
		r = bufio.NewReaderSize(gz, 1<<20)
	}
	n := 0
	var batch []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := insert(batch)
		batch = batch[:0]
		return err
	}
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			if err == io.EOF {
				return n, flush()
			}
			if err == io.ErrUnexpectedEOF {
				return n, &badDumpError{fmt.Sprintf("cut short after %d documents", n)}
			}
			return n, &badDumpError{fmt.Sprintf("unreadable after %d documents: %v", n, err)}
		}
		l := binary.LittleEndian.Uint32(size[:])
		if l < 5 || l > 48<<20 { // BSON's least document; MongoDB's largest message
			return n, &badDumpError{fmt.Sprintf("document %d claims %d bytes: not BSON", n+1, l)}
		}
		doc := make([]byte, l)
		copy(doc, size[:])
		if _, err := io.ReadFull(r, doc[4:]); err != nil {
			return n, &badDumpError{fmt.Sprintf("cut short in document %d", n+1)}
		}
		if err := bson.Raw(doc).Validate(); err != nil {
			return n, &badDumpError{fmt.Sprintf("document %d is not valid BSON: %v", n+1, err)}
		}
		batch = append(batch, bson.Raw(doc))
		n++
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
}
