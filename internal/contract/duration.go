package contract

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration in workflow and activity inputs whose JSON
// form is what a person reads: "3m0s", not 180000000000. The Web UI shows
// inputs and results as their JSON, so a guide's helmTimeout or a wait's
// interval reads there as in the config. It reads numbers of nanoseconds
// too: histories recorded before it replay, and a hand-written JSON input
// keeps working.
type Duration time.Duration

// D is d as a time.Duration, for timers, contexts and arithmetic.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String is time.Duration's: "1h30m0s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string ("3m0s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string ("90s", "1h30m") or a number of
// nanoseconds (the form time.Duration had).
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var text string
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
		v, err := time.ParseDuration(text)
		if err != nil {
			return fmt.Errorf("%q is not a duration (write 90s, 20m, 1h30m): %w", text, err)
		}
		*d = Duration(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("%s is not a duration: %w", s, err)
	}
	if i, err := n.Int64(); err == nil {
		*d = Duration(i)
		return nil
	}
	f, err := n.Float64()
	if err != nil {
		return fmt.Errorf("%s is not a duration: %w", s, err)
	}
	*d = Duration(f)
	return nil
}
