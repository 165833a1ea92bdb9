package activities

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// Scrubber removes secret values from text.
type Scrubber interface {
	Scrub(string) string
}

// NewScrubInterceptor returns a worker interceptor that removes every secret
// value, in every form, from what an activity sends to history: its result,
// its heartbeat details, and its failure (message, cause and details). The
// codec encrypts these too, but the Web UI shows them decoded to whoever
// reaches the codec server, so this is the last line of defence for a result
// that quotes a command's output or an error that quotes a DSN.
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

func (a *scrubActivity) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	o := &scrubOutbound{s: a.s}
	o.Next = outbound
	return a.Next.Init(o)
}

func (a *scrubActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	if err == nil {
		return ScrubValue(a.s, res), nil
	}
	return res, ScrubError(a.s, err)
}

type scrubOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	s Scrubber
}

func (o *scrubOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	clean := make([]any, len(details))
	for i, d := range details {
		clean[i] = ScrubValue(o.s, d)
	}
	o.Next.RecordHeartbeat(ctx, clean...)
}

// ScrubValue returns v with every secret removed from its JSON form: when
// the JSON holds one, a new value of v's type decoded from the scrubbed
// JSON (so the payload converter sees the same type), else v itself.
func ScrubValue(s Scrubber, v any) any {
	if v == nil || s == nil {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	clean := s.Scrub(string(b))
	if clean == string(b) {
		return v
	}
	t := reflect.TypeOf(v)
	p := reflect.New(t)
	if err := json.Unmarshal([]byte(clean), p.Interface()); err != nil {
		// The scrubbed text no longer decodes into the type (a secret
		// inside a number or a base64 []byte): send the scrubbed JSON.
		return json.RawMessage(clean)
	}
	return p.Elem().Interface()
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
		details, detailsChanged := scrubDetails(s, app)
		if clean == msg && !detailsChanged {
			return err
		}
		opts := temporal.ApplicationErrorOptions{NonRetryable: app.NonRetryable(), Category: app.Category(), Details: details}
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

// scrubDetails returns an application error's details scrubbed, and
// whether scrubbing changed any. An activity's error carries its details
// as Go values; they are read back one more at a time until there are no
// more (the SDK offers no count).
func scrubDetails(s Scrubber, app *temporal.ApplicationError) ([]any, bool) {
	if !app.HasDetails() {
		return nil, false
	}
	var vals []any
	for n := 1; n <= 16; n++ {
		ptrs := make([]any, n)
		got := make([]any, n)
		for i := range ptrs {
			ptrs[i] = &got[i]
		}
		if app.Details(ptrs...) != nil {
			break
		}
		vals = got
	}
	changed := false
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = ScrubValue(s, v)
		if !reflect.DeepEqual(out[i], v) {
			changed = true
		}
	}
	return out, changed
}

// scrubText is the one place text is scrubbed: every secret value the
// worker has resolved is replaced. A nil Scrubber scrubs nothing (tests).
func scrubText(sc Scrubber, s string) string {
	if sc == nil {
		return s
	}
	return sc.Scrub(s)
}

// scrubReader scrubs a stream as a whole before anyone splits it into lines
// or cuts it: text is passed on only up to a point no secret form (nor the
// start of one at the end of what came so far) crosses, so a secret split
// across two reads, or across a line break, is replaced whole. When the
// stream pauses for scrubIdle the rest is passed on scrubbed, so a command
// waiting after its last line is still seen to have printed it.
func scrubReader(sc Scrubber, r io.Reader) io.Reader {
	fs, ok := sc.(interface{ Forms() []string })
	if !ok {
		return r
	}
	type chunk struct {
		b   []byte
		err error
	}
	chunks := make(chan chunk)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := r.Read(buf)
			chunks <- chunk{buf[:n], err}
			if err != nil {
				return
			}
		}
	}()
	pr, pw := io.Pipe()
	go func() {
		defer func() {
			for range chunks { // unblock the reader
			}
		}()
		var raw string
		idle := time.NewTimer(time.Hour)
		defer idle.Stop()
		emit := func(n int) bool {
			if n == 0 {
				return true
			}
			_, err := io.WriteString(pw, sc.Scrub(raw[:n]))
			raw = raw[n:]
			return err == nil
		}
		for {
			select {
			case c, ok := <-chunks:
				if !ok {
					return
				}
				raw += string(c.b)
				if c.err != nil {
					if emit(len(raw)) {
						err := c.err
						if err == io.EOF {
							err = nil
						}
						_ = pw.CloseWithError(err)
					}
					return
				}
				if !emit(safeCut(raw, fs.Forms())) {
					return
				}
				idle.Reset(scrubIdle)
			case <-idle.C:
				if !emit(len(raw)) {
					return
				}
			}
		}
	}()
	return pr
}

// safeCut is the longest prefix of raw that no form crosses: neither a
// whole occurrence nor one that the text so far only begins.
func safeCut(raw string, forms []string) int {
	e := len(raw)
	for moved := true; moved; {
		moved = false
		for _, f := range forms {
			for p := max(0, e-len(f)+1); p < e; p++ {
				rest := raw[p:]
				if strings.HasPrefix(rest, f) || strings.HasPrefix(f, rest) {
					e, moved = p, true
					break
				}
			}
		}
	}
	return e
}

// scrubIdle is how long scrubReader holds back a tail when nothing more comes.
const scrubIdle = 200 * time.Millisecond
