package config

import (
	"fmt"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
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
	settings := v.AllSettings()
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
