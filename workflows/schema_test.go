package workflows_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"upgrader/workflows"
)

// TestSchemasAreCurrentAndExamplesFollowThem regenerates every guide's
// config schema from the Go types and their doc comments, compares it with
// the committed file (UPDATE_SCHEMAS=1 rewrites them), checks the example
// config names it on its first line, and validates the example against it.
func TestSchemasAreCurrentAndExamplesFollowThem(t *testing.T) {
	r := &jsonschema.Reflector{}
	require.NoError(t, r.AddGoComments("upgrader/workflows", "."))
	// Target, Approvers and Site live in internal/runstatus (the key is
	// path.Join of the two: upgrader/internal/runstatus).
	require.NoError(t, r.AddGoComments("upgrader/workflows", "../internal/runstatus"))
	for _, g := range workflows.Guides() {
		t.Run(g.Name, func(t *testing.T) {
			got, err := workflows.Schema(g, r.CommentMap)
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("..", "config", "schema", g.Name+".json")
			if os.Getenv("UPDATE_SCHEMAS") != "" {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "generate it: UPDATE_SCHEMAS=1 go test ./workflows -run Schema")
			require.Equal(t, string(want), string(got), "stale schema; regenerate: UPDATE_SCHEMAS=1 go test ./workflows -run Schema")

			example, err := os.ReadFile(filepath.Join("..", g.Example))
			require.NoError(t, err)
			first, _, _ := strings.Cut(string(example), "\n")
			require.Equal(t, "# yaml-language-server: $schema=../schema/"+g.Name+".json", first)

			var sch any
			require.NoError(t, json.Unmarshal(got, &sch))
			c := sjs.NewCompiler()
			require.NoError(t, c.AddResource("schema.json", sch))
			compiled, err := c.Compile("schema.json")
			require.NoError(t, err)
			js, err := yaml.YAMLToJSON(example)
			require.NoError(t, err)
			doc, err := sjs.UnmarshalJSON(bytes.NewReader(js))
			require.NoError(t, err)
			require.NoError(t, compiled.Validate(doc), "the example follows its schema")

			bad, err := sjs.UnmarshalJSON(strings.NewReader(`{"probe": {"timeout": 20}, "typo": 1}`))
			require.NoError(t, err)
			require.Error(t, compiled.Validate(bad), "unknown keys and unit-less durations are refused")
		})
	}
}
