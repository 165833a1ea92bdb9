package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestShellCompletionKnowsGuidesAndOutputs(t *testing.T) {
	out, err := run(t, "__complete", "start", "")
	require.NoError(t, err)
	require.Contains(t, out, "demo\tDemo upgrade")
	require.Contains(t, out, "choerodon-0.21-0.22\t")
	out, err = run(t, "__complete", "list", "--output", "")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "text\njson\n"), out)
	out, err = run(t, "completion", "bash")
	require.NoError(t, err)
	require.Contains(t, out, "bash completion V2 for starter")
}

func TestOutputMustBeTextOrJSON(t *testing.T) {
	_, err := run(t, "list", "--output", "yaml")
	require.EqualError(t, err, `--output "yaml": use text or json`)
	_, err = run(t, "status", "upgrade/demo/lab", "-o", "xml")
	require.EqualError(t, err, `--output "xml": use text or json`)
}
