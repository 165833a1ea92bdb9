package activities

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/alessio/shellescape"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
	"upgrader/internal/text"
)

// WaitContainer probes from the shared ticker's loop; a dead worker is
// noticed within the waits' heartbeat timeout.
var _ = contract.Declare((*Compose).WaitContainer, contract.Options{Heartbeat: waitHeartbeat})

// WaitContainerInput says which container must come up and where it answers.
type WaitContainerInput struct {
	Host       SSHTarget `json:"host"`
	DockerHost string    `json:"dockerHost,omitempty"`
	// Container is the compose file's container_name.
	Container string `json:"container"`
	// Address is the published port as the worker reaches it (HOSTIP:8000).
	Address string `json:"address"`
	// StableFor is how long the container must have been running, without
	// a restart, before it counts as up (a service that dies on a bad
	// database password lives a moment first); zero means 5 s.
	StableFor contract.Duration `json:"stableFor,omitempty"`
	// FailAfterRestarts: this many restarts seen during the wait mean a
	// restart loop (restart: always hides a crash); zero means 2.
	FailAfterRestarts int `json:"failAfterRestarts,omitempty"`
	// LogLines is how many of the container's last log lines a restart
	// loop reports; zero means 20.
	LogLines int `json:"logLines,omitempty"`
	// Interval between probes; zero uses DefaultPollInterval.
	Interval contract.Duration `json:"interval,omitempty"`
}

// WaitContainerResult is how the container was found.
type WaitContainerResult struct {
	contract.Outcome
	Probes   int `json:"probes"`
	Restarts int `json:"restarts"`
	// LogTail is the container's last lines when it restarted in a loop.
	LogTail []string `json:"logTail,omitempty"`
}

// containerProgress is what the wait's heartbeats carry: a try on another
// worker keeps counting restarts from the same baseline.
type containerProgress struct {
	Probes   int    `json:"probes"`
	Baseline int    `json:"baseline"`
	Seen     bool   `json:"seen"`
	Last     string `json:"last"`
}

// WaitContainer waits until the container runs, has run StableFor without
// restarting, and its published port accepts connections from the worker.
// `docker-compose up -d` returns as soon as the container is created, and
// with `restart: always` a service that cannot reach its database restarts
// forever while `docker ps` shows it "Up 1 second": restarts counted during
// the wait are the sign, and the step stops with the container's last log
// lines so the operator sees why (and retries after fixing it; the
// container keeps restarting and is picked up when it stays up).
func (c *Compose) WaitContainer(ctx context.Context, in WaitContainerInput) (WaitContainerResult, error) {
	if in.Container == "" || in.Address == "" {
		return WaitContainerResult{}, invalid("wait: a container name and an address are needed")
	}
	stable := in.StableFor.D()
	if stable <= 0 {
		stable = 5 * time.Second
	}
	maxRestarts := in.FailAfterRestarts
	if maxRestarts <= 0 {
		maxRestarts = 2
	}
	interval := in.Interval.D()
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	var p containerProgress
	priorProgress(ctx, &p)
	var beat Progress
	beat.Set(p)
	var res WaitContainerResult
	err := whileHeartbeating(ctx, &beat, func(ctx context.Context) error {
		pause := min(firstPollPause, interval)
		for {
			p.Probes++
			st, err := c.inspect(ctx, in)
			switch {
			case err != nil:
				p.Last = err.Error()
			case st.missing:
				return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s does not exist on %s; run its docker-compose up -d step again",
					in.Container, in.Host), ErrContainerMissing, nil)
			default:
				if !p.Seen {
					p.Seen, p.Baseline = true, st.restarts
				}
				restarts := st.restarts - p.Baseline
				p.Last = fmt.Sprintf("%s, restarted %d times during the wait (%d in all), up %s", st.status, restarts, st.restarts, st.uptime.Round(100*time.Millisecond))
				if restarts >= maxRestarts || st.status == "exited" || st.status == "dead" {
					tail := c.containerLogTail(ctx, in.Host, in.DockerHost, in.Container, in.LogLines)
					res = WaitContainerResult{Probes: p.Probes, Restarts: restarts, LogTail: tail}
					return temporal.NewNonRetryableApplicationError(c.scrub(fmt.Sprintf(
						"%s on %s is not staying up (%s); its last log lines: %s — fix the cause (the log says what), then retry this step: the container restarts by itself and is taken once it stays up",
						in.Container, in.Host, p.Last, text.Truncate(strings.Join(lastN(tail, 4), " | "), 1600))), ErrContainerRestarting, nil, res)
				}
				if st.status == "running" && st.uptime >= stable {
					if derr := dialOnce(ctx, in.Address); derr != nil {
						p.Last += "; port " + in.Address + ": " + derr.Error()
					} else {
						res = WaitContainerResult{Probes: p.Probes, Restarts: restarts}
						res.Summary = fmt.Sprintf("%s running for %s and %s accepts connections (%d probes, %d restarts during the wait)",
							in.Container, st.uptime.Round(time.Second), in.Address, p.Probes, restarts)
						return nil
					}
				}
			}
			beat.Set(p)
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 2*pause {
				return fmt.Errorf("%s did not come up before the step's timeout; last seen: %s", in.Container, c.scrub(p.Last))
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("stopped waiting for %s (last seen: %s): %w", in.Container, p.Last, ctx.Err())
			case <-time.After(pause):
			}
			pause = min(2*pause, interval)
		}
	})
	return res, err
}

type containerState struct {
	missing  bool
	status   string
	restarts int
	uptime   time.Duration
}

// inspect reads the container's state with docker inspect on the host.
func (c *Compose) inspect(ctx context.Context, in WaitContainerInput) (containerState, error) {
	script := dockerPrefix(in.DockerHost) + "docker inspect -f '{{.State.Status}} {{.RestartCount}} {{.State.StartedAt}}' " +
		shellescape.Quote(in.Container) + " 2>&1; echo \"now $(date -u +%Y-%m-%dT%H:%M:%S.%NZ)\""
	out, err := c.Host.capture(ctx, in.Host, script, nil)
	if err != nil {
		return containerState{}, err
	}
	var st containerState
	var started, now time.Time
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case strings.Contains(l, "No such object") || strings.Contains(l, "No such container"):
			return containerState{missing: true}, nil
		case len(f) == 2 && f[0] == "now":
			now, _ = time.Parse(time.RFC3339Nano, f[1])
		case len(f) == 3:
			n, err := strconv.Atoi(f[1])
			if err != nil {
				continue
			}
			st.status, st.restarts = f[0], n
			started, _ = time.Parse(time.RFC3339Nano, f[2])
		}
	}
	if st.status == "" {
		return containerState{}, fmt.Errorf("docker inspect %s said: %s", in.Container, text.Truncate(strings.TrimSpace(out), 300))
	}
	if !started.IsZero() && !now.IsZero() && st.status == "running" {
		st.uptime = now.Sub(started)
	}
	return st, nil
}

func dialOnce(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}
