package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"
	"upgrader/internal/contract"

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
			durationNeedsUnit,
			mapstructure.StringToTimeDurationHookFunc(),
			stringToDuration,
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

// durationNeedsUnit refuses a bare number for a duration: `timeout: 20`
// would otherwise be 20 nanoseconds, and every wait would time out at once.
func durationNeedsUnit(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) && to != reflect.TypeOf(contract.Duration(0)) {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return nil, fmt.Errorf("%v is a number without a unit; write a duration such as %vs or %vm", data, data, data)
	}
	return data, nil
}

// stringToDuration reads "90s" into the inputs' contract.Duration (the
// duration whose JSON form is a string), as mapstructure does for
// time.Duration.
func stringToDuration(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(contract.Duration(0)) || from.Kind() != reflect.String {
		return data, nil
	}
	d, err := time.ParseDuration(reflect.ValueOf(data).String())
	if err != nil {
		return nil, err
	}
	return contract.Duration(d), nil
}
