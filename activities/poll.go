package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// DefaultPollInterval is the pause between two probes of a wait when
// neither the step nor the worker sets one.
const DefaultPollInterval = time.Second

// firstPollPause is the pause after the first probe: a wait starts fast
// (most checks pass within a second of a change) and doubles its pause up to
// the step's interval, so a long wait costs no more probes than before.
const firstPollPause = 100 * time.Millisecond

// waitHeartbeat is the heartbeat timeout of every wait: the ticker beats
// every third of it, so a dead worker is noticed within 20 s whatever the
// probe interval (a config's probe.interval must stay below it).
const waitHeartbeat = 20 * time.Second

// WaitHeartbeat is waitHeartbeat for config validation.
const WaitHeartbeat = waitHeartbeat

// waitProgress is the heartbeat of every wait, so the Web UI's pending
// activity shows the last observation and a new worker resumes the count.
type waitProgress struct {
	Probes int    `json:"probes"`
	Last   string `json:"last"`
}

// pollUntil runs probe until it succeeds, pausing 100 ms after the first
// probe and doubling the pause up to interval. The ticker of
// whileHeartbeating carries the count and the last observation, whatever the
// interval, so a slow probe or a long interval never looks like a dead
// worker. It gives up shortly before the activity's deadline, with the last
// observation in the error, so the operator sees why.
func pollUntil(ctx context.Context, what, ready string, interval time.Duration, probe func() (bool, string)) (WaitHTTPResult, error) {
	var p waitProgress
	priorProgress(ctx, &p)
	var beat Progress
	beat.Set(p)
	var res WaitHTTPResult
	err := whileHeartbeating(ctx, &beat, func(ctx context.Context) error {
		deadline, hasDeadline := ctx.Deadline()
		pause := min(firstPollPause, interval)
		for {
			p.Probes++
			ok, obs := probe()
			p.Last = obs
			beat.Set(p)
			if ok {
				res = WaitHTTPResult{Outcome: contract.Outcome{Summary: fmt.Sprintf("%s %s after %d probes: %s", what, ready, p.Probes, obs)}, Probes: p.Probes}
				return nil
			}
			if hasDeadline && time.Until(deadline) < pause+time.Second {
				return temporal.NewApplicationError(
					fmt.Sprintf("%s not %s after %d probes; last: %s", what, ready, p.Probes, obs), "NotReady")
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not %s after %d probes; last: %s: %w", what, ready, p.Probes, obs, ctx.Err())
			case <-time.After(pause):
			}
			pause = min(2*pause, interval)
		}
	})
	return res, err
}
