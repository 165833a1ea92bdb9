package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"sigs.k8s.io/yaml"
)

// LoadUpgrade decodes an upgrade config file (one environment of one guide)
// over out, a guide's input holding its defaults. Unknown keys are errors. A
// top-level `guide:` key, when present, must name the guide being loaded, so
// a config cannot be started with the wrong guide by mistake.
func LoadUpgrade(path, guide string, out any) error {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("unable to read upgrade config %s: %w", path, err)
	}
	// viper lower-cases every key, but Helm values in an upgrade config
	// (env.open.SPRING_REDIS_HOST) are case-sensitive: decode the file
	// itself, keeping keys as written. Field names still match in any case.
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("unable to read upgrade config %s: %w", path, err)
	}
	settings := map[string]any{}
	if err := yaml.Unmarshal(raw, &settings); err != nil {
		return fmt.Errorf("upgrade config %s: %w", path, err)
	}
	if g, ok := settings["guide"]; ok {
		if fmt.Sprint(g) != guide {
			return fmt.Errorf("upgrade config %s is for guide %q, not %q", path, g, guide)
		}
		delete(settings, "guide")
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           out,
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
		MatchName: func(mapKey, fieldName string) bool { return strings.EqualFold(mapKey, fieldName) },
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(settings); err != nil {
		return fmt.Errorf("upgrade config %s: %w", path, err)
	}
	return nil
}
