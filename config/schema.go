package config

import (
	"embed"
	"fmt"
)

// schemas are the JSON Schemas of the guides' upgrade configs, generated
// from the Go types with their doc comments (workflows/schema_test.go
// checks they are current; `UPDATE_SCHEMAS=1 go test ./workflows -run Schema`
// writes them).
//
//go:embed schema/*.json
var schemas embed.FS

// UpgradeSchema returns the JSON Schema of a guide's upgrade config.
func UpgradeSchema(guide string) ([]byte, error) {
	b, err := schemas.ReadFile("schema/" + guide + ".json")
	if err != nil {
		return nil, fmt.Errorf("no schema for guide %q (see `starter guides`)", guide)
	}
	return b, nil
}
