package activities

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// A mongodump collection file is read document by document; one cut short
// or not BSON at all is named, with how many documents came before.
func TestMongoDumpFilesAreReadDocumentByDocument(t *testing.T) {
	var raw []byte
	for i := range 2500 {
		b, err := bson.Marshal(bson.D{{Key: "bk_host_id", Value: i}, {Key: "note", Value: "a (quoted) \"value\""}})
		require.NoError(t, err)
		raw = append(raw, b...)
	}
	dir := t.TempDir()
	write := func(name string, b []byte, gz bool) string {
		p := filepath.Join(dir, name)
		if gz {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			_, _ = w.Write(b)
			require.NoError(t, w.Close())
			b = z.Bytes()
		}
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	var batches []int
	n, err := readBSONFile(write("c.bson.gz", raw, true), func(b []any) error { batches = append(batches, len(b)); return nil })
	require.NoError(t, err)
	require.Equal(t, 2500, n)
	require.Equal(t, []int{1000, 1000, 500}, batches)

	n, err = readBSONFile(write("empty.bson", nil, false), func([]any) error { return nil })
	require.NoError(t, err)
	require.Zero(t, n)

	var bad *badDumpError
	_, err = readBSONFile(write("cut.bson", raw[:len(raw)-7], false), func([]any) error { return nil })
	require.True(t, errors.As(err, &bad))
	require.Contains(t, err.Error(), "cut short in document 2500")

	_, err = readBSONFile(write("text.bson.gz", []byte("{}\n"), true), func([]any) error { return nil })
	require.True(t, errors.As(err, &bad))
	require.Contains(t, err.Error(), "cut short after 0 documents")

	_, err = readBSONFile(write("junk.bson", []byte("this is not a dump at all"), false), func([]any) error { return nil })
	require.True(t, errors.As(err, &bad))
	require.Contains(t, err.Error(), "not BSON")
}
