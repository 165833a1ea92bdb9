package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// Scrubber removes secret values from text.
type Scrubber interface {
	Scrub(string) string
}

// NewScrubInterceptor returns a worker interceptor that removes every secret
// value from activity failures before they are written to history. Failure
// messages are not encrypted by payload codecs and the Web UI shows them, so
// this is the last line of defence for an error that quotes a DSN or a
// command line.
func NewScrubInterceptor(s Scrubber) interceptor.WorkerInterceptor {
	return &scrubWorker{s: s}
}

type scrubWorker struct {
	interceptor.WorkerInterceptorBase
	s Scrubber
}

func (w *scrubWorker) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &scrubActivity{s: w.s}
	i.Next = next
	return i
}

type scrubActivity struct {
	interceptor.ActivityInboundInterceptorBase
	s Scrubber
}

func (a *scrubActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	if err == nil {
		return res, nil
	}
	return res, ScrubError(a.s, err)
}

// ScrubError returns err with every secret value removed from its text. It
// keeps an application error's type and retryability, so the workflow can
// still branch on them; the cause chain is flattened into the message.
func ScrubError(s Scrubber, err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg := app.Message()
		if err != app { // wrapped: keep the outer context
			msg = err.Error()
		} else if cause := errors.Unwrap(app); cause != nil {
			msg += ": " + cause.Error()
		}
		clean := s.Scrub(msg)
		if clean == msg {
			return err
		}
		opts := temporal.ApplicationErrorOptions{NonRetryable: app.NonRetryable(), Category: app.Category()}
		if d := app.NextRetryDelay(); d > 0 {
			opts.NextRetryDelay = d
		}
		return temporal.NewApplicationErrorWithOptions(clean, app.Type(), opts)
	}
	msg := err.Error()
	if clean := s.Scrub(msg); clean != msg {
		return errors.New(clean)
	}
	return err
}

// scrubText is the one place text is scrubbed: every secret value the
// worker has resolved is replaced. A nil Scrubber scrubs nothing (tests).
func scrubText(sc Scrubber, s string) string {
	if sc == nil {
		return s
	}
	return sc.Scrub(s)
}
