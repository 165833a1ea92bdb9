package activities_test

import (
	"strings"
	"testing"

	"upgrader/activities"
	"upgrader/config"
)

// FuzzSplitSQL: any script splits without panicking into trimmed,
// non-empty statements whose lines are in order and inside the script.
func FuzzSplitSQL(f *testing.F) {
	for _, s := range []string{
		"CREATE DATABASE a; USE a;\nINSERT INTO t VALUES ('x;y', \"z\");",
		"-- c; \n/* ; */ SELECT `a;b` FROM t; # x;\nSELECT 2",
		"DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//",
		"SELECT 'it''s'; SELECT 'a\\';b'",
		"SELECT '迁移;数据';\n\n\nSELECT 1;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		stmts, err := activities.SplitSQL(script)
		if err != nil {
			return
		}
		lines := strings.Count(script, "\n") + 1
		last := 1
		for _, s := range stmts {
			if s.SQL == "" || strings.TrimSpace(s.SQL) != s.SQL {
				t.Fatalf("statement %q is empty or untrimmed", s.SQL)
			}
			if s.Line < last || s.Line > lines {
				t.Fatalf("statement %q at line %d (previous %d, script has %d)", s.SQL, s.Line, last, lines)
			}
			last = s.Line
		}
	})
}

// FuzzTemplateValuesAreData: a config value handed to a template as data
// comes out exactly as it went in, whatever it holds ({{secret …}}
// included): values are never template text, and no secret is resolved.
func FuzzTemplateValuesAreData(f *testing.F) {
	for _, s := range []string{`x{{secret "db-root"}}`, `{{ secret "db-root" | printf "%s" }}`, "{{.}}", "plain", "{{template \"t\"}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		store := &countingSecrets{}
		out, err := activities.RenderWithSecretsForTest("fuzz", "host={{.Host}}", map[string]string{"Host": value}, store,
			config.SecretUse{Kind: config.UseFile})
		if err != nil {
			t.Fatalf("rendering a value as data failed: %v", err)
		}
		if string(out) != "host="+value {
			t.Fatalf("value %q rendered as %q", value, out)
		}
		if store.n > 0 {
			t.Fatalf("value %q resolved a secret", value)
		}
	})
}

type countingSecrets struct{ n int }

func (c *countingSecrets) Resolve(string) (string, error) { c.n++; return "s3cret-value", nil }
