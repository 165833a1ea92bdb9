package activities

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"upgrader/internal/contract"
)

// Progress is what a blocking step reports in its heartbeat details while it
// runs; set it from the work (log offset, statements done, the revision a
// helm try started) and the ticker sends the latest value.
type Progress struct {
	mu sync.Mutex
	v  any
}

// Set replaces the details the next heartbeat carries.
func (p *Progress) Set(v any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.v = v
	p.mu.Unlock()
}

func (p *Progress) get() any {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.v
}

// heartbeatEvery is how often the ticker heartbeats for a given heartbeat
// timeout: three beats fit in one timeout, so one lost beat costs nothing.
func heartbeatEvery(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return 5 * time.Second
	}
	every := timeout / 3
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	return every
}

// whileHeartbeating runs fn, heartbeating from a ticker until it returns: a
// helm upgrade waiting for its hooks, a dump, an SSH command. Outside an
// activity (unit tests calling the method directly) it only runs fn. The
// heartbeat timeout comes from the activity's own options, which the
// activity declares beside its code (contract.Declare). fn gets a context
// that is cancelled when Temporal cancels the try or its heartbeat fails
// for good, so the blocking call stops with it.
func whileHeartbeating(ctx context.Context, p *Progress, fn func(ctx context.Context) error) error {
	if !activity.IsActivity(ctx) {
		return fn(ctx)
	}
	info := activity.GetInfo(ctx)
	every := heartbeatEvery(info.HeartbeatTimeout)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, p.get())
			}
		}
	}()
	activity.RecordHeartbeat(ctx, p.get())
	err := fn(ctx)
	close(done)
	wg.Wait()
	if err != nil {
		// The try ends without a result: leave its last progress for the
		// next attempt (a new worker resumes exactly there).
		activity.RecordHeartbeat(ctx, p.get())
	}
	return err
}

// heartbeating runs fn(ctx, in) under whileHeartbeating (no progress
// details) and returns its result. It is the shape of an activity whose work
// is short but which declares a heartbeat timeout all the same: the server
// hands a worker its next activity eagerly, so a worker that dies holding
// the task is then noticed within that timeout, not at the try's limit.
func heartbeating[I, R any](ctx context.Context, in I, fn func(context.Context, I) (R, error)) (R, error) {
	var res R
	err := whileHeartbeating(ctx, nil, func(ctx context.Context) error {
		var err error
		res, err = fn(ctx, in)
		return err
	})
	return res, err
}

// priorProgress reads the heartbeat details an earlier attempt of this
// activity left (after a lost worker), into v; false when there are none.
// A try the runbook started because the one before it lost its worker
// carries that try's last details (contract.Carried): it reads them when
// none of its own attempts heartbeated yet.
func priorProgress(ctx context.Context, v any) bool {
	if !activity.IsActivity(ctx) {
		return false
	}
	if activity.HasHeartbeatDetails(ctx) {
		return activity.GetHeartbeatDetails(ctx, v) == nil
	}
	if b, ok := contract.Carried(ctx); ok {
		return json.Unmarshal(b, v) == nil
	}
	return false
}
