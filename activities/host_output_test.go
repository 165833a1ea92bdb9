package activities_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"upgrader/activities"
)

// History keeps a capped tail (200 lines, 64 KiB, cut at runes); the step
// log keeps everything.
func TestHostOutputTailIsCappedAndTheLogKeepsAll(t *testing.T) {
	f := newHostFixture(t)
	for _, repeatable := range []bool{false, true} {
		t.Run("repeatable="+strconv.FormatBool(repeatable), func(t *testing.T) {
			res, err := f.run(t, activities.HostCommandInput{Command: "seq 1 5000", Repeatable: repeatable})
			require.NoError(t, err)
			require.Equal(t, 5000, res.Lines)
			require.Len(t, res.Tail, 200)
			require.Equal(t, "4801", res.Tail[0])
			require.Equal(t, "5000", res.Tail[199])
			log, err := os.ReadFile(res.LogPath)
			require.NoError(t, err)
			require.Contains(t, string(log), "\n1\n2\n3\n")
			require.Contains(t, string(log), "\n4999\n5000\n")

			// Long lines of Chinese text: at most 64 KiB, valid UTF-8.
			res, err = f.run(t, activities.HostCommandInput{
				Command:    `i=0; while [ $i -lt 40 ]; do printf '%0.s修复完成，正常退出' $(seq 1 200); echo; i=$((i+1)); done`,
				Repeatable: repeatable})
			require.NoError(t, err)
			total := 0
			for _, l := range res.Tail {
				require.True(t, utf8.ValidString(l))
				total += len(l)
			}
			require.LessOrEqual(t, total, 64<<10)
			require.Equal(t, 40, res.Lines)
			require.Less(t, len(res.Tail), 40)
		})
	}
}

// A command that is not repeatable keeps its marker, exit code and whole
// output on the host.
func TestHostCommandRunOnceKeepsItsRecordOnTheHost(t *testing.T) {
	f := newHostFixture(t)
	res, err := f.run(t, activities.HostCommandInput{Command: "echo one; echo two >&2; exit 4", ExpectExit: []int{4},
		SecretEnv: map[string]string{"DB_PW": "db-pw"}})
	require.NoError(t, err)
	require.Equal(t, 4, res.ExitCode)
	require.Equal(t, []string{"one", "two"}, res.Tail)
	require.NotEmpty(t, res.Marker)
	require.True(t, strings.HasPrefix(res.Marker, f.host.MarkerDir), res.Marker)
	out, err := os.ReadFile(filepath.Join(res.Marker, "out"))
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\n", string(out))
	code, err := os.ReadFile(filepath.Join(res.Marker, "exit"))
	require.NoError(t, err)
	require.Equal(t, "4\n", string(code))
	cmd, err := os.ReadFile(filepath.Join(res.Marker, "cmd"))
	require.NoError(t, err)
	require.NotContains(t, string(cmd), sshSecret, "secret values never reach the host's disk")
	st, err := os.Stat(res.Marker)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
}
