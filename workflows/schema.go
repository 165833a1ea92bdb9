package workflows

import (
	"encoding/json"
	"reflect"
	"time"
	"upgrader/internal/contract"

	"github.com/invopop/jsonschema"
)

// durationPattern is what config durations accept: Go durations with units.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// Schema is the JSON Schema of a guide's upgrade config, generated from the
// Go types, for editors (yaml-language-server) and reviewers: keys as the
// config spells them, no unknown keys, durations as strings with units.
// comments, when given (from the source: see schema_test.go), become
// descriptions. The committed files under config/schema are its output.
func Schema(s Spec, comments map[string]string) ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "mapstructure",
		RequiredFromJSONSchemaTags: true, // every key has a default
		DoNotReference:             true,
		CommentMap:                 comments,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == reflect.TypeOf(time.Duration(0)) || t == reflect.TypeOf(contract.Duration(0)) {
				return &jsonschema.Schema{Type: "string", Pattern: durationPattern,
					Description: "a duration with a unit: 90s, 20m, 1h30m"}
			}
			return nil
		},
	}
	sch := r.Reflect(s.NewInput())
	sch.ID = jsonschema.ID("https://upgrader.local/schema/" + s.Name + ".json")
	sch.Title = s.Title
	if sch.Properties != nil {
		sch.Properties.Set("guide", &jsonschema.Schema{Type: "string", Const: s.Name,
			Description: "the guide this config is for; starter refuses it for another"})
	}
	return json.MarshalIndent(sch, "", "  ")
}
