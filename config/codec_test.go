package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"upgrader/config"
	"upgrader/internal/codec"
)

func TestCodecKeysComeFromAPrivateFileOrTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	line, err := codec.NewKeyLine("k1")
	require.NoError(t, err)
	keys := filepath.Join(dir, "codec.keys")
	require.NoError(t, os.WriteFile(keys, []byte(line+"\n"), 0o600))

	t.Setenv("UPGRADER_TEMPORAL_CODEC_KEYFILE", keys)
	cfg, err := config.LoadWorker("")
	require.NoError(t, err)
	require.True(t, cfg.Temporal.Codec.Enabled())

	require.NoError(t, os.Chmod(keys, 0o644))
	_, err = config.LoadWorker("")
	require.ErrorContains(t, err, "temporal.codec.keyFile: "+keys+" may be read or written by group or others (-rw-r--r--); run: chmod 600 "+keys)

	bad := filepath.Join(dir, "bad.keys")
	require.NoError(t, os.WriteFile(bad, []byte("k1 "+strings.Repeat("a", 10)+"\n"), 0o600))
	t.Setenv("UPGRADER_TEMPORAL_CODEC_KEYFILE", bad)
	_, err = config.LoadWorker("")
	require.ErrorContains(t, err, "temporal.codec.keyFile: codec key file "+bad+": line 1: key k1 is not 32 bytes in hex")

	t.Setenv("UPGRADER_TEMPORAL_CODEC_KEYFILE", "")
	t.Setenv("UPGRADER_TEMPORAL_CODEC_KEYENV", "UPGRADER_TEST_RING")
	t.Setenv("UPGRADER_TEST_RING", line)
	cfg, err = config.LoadWorker("")
	require.NoError(t, err)
	require.Equal(t, "UPGRADER_TEST_RING", cfg.Temporal.Codec.KeyEnv)
	t.Setenv("UPGRADER_TEMPORAL_CODEC_KEYFILE", keys)
	_, err = config.LoadWorker("")
	require.ErrorContains(t, err, "temporal.codec: set keyFile or keyEnv, not both")
}
