package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/codec"
)

func ring(t *testing.T, ids ...string) string {
	t.Helper()
	var lines []string
	for _, id := range ids {
		l, err := codec.NewKeyLine(id)
		require.NoError(t, err)
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestPayloadsAreEncryptedAndOldKeysStillDecryptAfterARotation(t *testing.T) {
	old := ring(t, "k1")
	r1, err := codec.ParseRing(old)
	require.NoError(t, err)
	dc1 := codec.New(r1).DataConverter()
	p, err := dc1.ToPayload(map[string]string{"password": "s3cret-value"})
	require.NoError(t, err)
	require.Equal(t, codec.Encoding, string(p.Metadata[converter.MetadataEncoding]))
	require.Equal(t, "k1", string(p.Metadata[codec.MetadataKeyID]))
	require.NotContains(t, string(p.Data), "s3cret-value")

	// Rotation: a new key first, the old one kept after it.
	newLine := ring(t, "k2")
	r2, err := codec.ParseRing(newLine + old)
	require.NoError(t, err)
	require.Equal(t, "k2", r2.Current)
	dc2 := codec.New(r2).DataConverter()
	var got map[string]string
	require.NoError(t, dc2.FromPayload(p, &got))
	require.Equal(t, "s3cret-value", got["password"])
	p2, err := dc2.ToPayload("x")
	require.NoError(t, err)
	require.Equal(t, "k2", string(p2.Metadata[codec.MetadataKeyID]))

	// A ring without the key says which key is missing.
	r3, err := codec.ParseRing(newLine)
	require.NoError(t, err)
	err = codec.New(r3).DataConverter().FromPayload(p, &got)
	require.ErrorContains(t, err, `codec key "k1", which is not in this key ring`)

	// Plain payloads (histories from before the codec) pass through.
	plain, err := converter.GetDefaultDataConverter().ToPayload("plain")
	require.NoError(t, err)
	var s string
	require.NoError(t, dc2.FromPayload(plain, &s))
	require.Equal(t, "plain", s)
}

func TestATamperedPayloadIsRefused(t *testing.T) {
	r, err := codec.ParseRing(ring(t, "k1"))
	require.NoError(t, err)
	dc := codec.New(r).DataConverter()
	p, err := dc.ToPayload("value")
	require.NoError(t, err)
	p.Data[len(p.Data)-1] ^= 1
	var s string
	require.ErrorContains(t, dc.FromPayload(p, &s), "unable to decrypt")
	// The key ID is authenticated too: relabelled, it does not open.
	p, _ = dc.ToPayload("value")
	p.Metadata[codec.MetadataKeyID] = []byte("k1 ")
	require.Error(t, dc.FromPayload(p, &s))
}

func TestFailureMessagesAndStackTracesAreEncrypted(t *testing.T) {
	r, err := codec.ParseRing(ring(t, "k1"))
	require.NoError(t, err)
	fc := codec.New(r).FailureConverter()
	f := fc.ErrorToFailure(temporal.NewApplicationError("dial root:pw-in-message@db failed", "Dial", "detail-pw"))
	require.Equal(t, "Encoded failure", f.GetMessage())
	require.Empty(t, f.GetStackTrace())
	require.Equal(t, codec.Encoding, string(f.GetEncodedAttributes().GetMetadata()[converter.MetadataEncoding]))
	require.NotContains(t, f.String(), "pw-in-message")
	require.NotContains(t, f.String(), "detail-pw")
	back := fc.FailureToError(f)
	require.ErrorContains(t, back, "pw-in-message")
	var app *temporal.ApplicationError
	require.True(t, errors.As(back, &app))
	require.Equal(t, "Dial", app.Type())
}

func TestRingErrorsNameTheLineNeverTheKey(t *testing.T) {
	for text, want := range map[string]string{
		"":                                     "holds no key",
		"k1 abcd\n":                            "line 1: key k1 is not 32 bytes in hex",
		"# c\nk/1 " + strings.Repeat("ab", 32): "line 2: want",
		"k1 " + strings.Repeat("ab", 32) + "\nk1 " + strings.Repeat("cd", 32): "line 2: key id k1 appears twice",
	} {
		_, err := codec.ParseRing(text)
		require.ErrorContains(t, err, want, "ring %q", text)
		require.NotContains(t, err.Error(), "abab")
	}
}
