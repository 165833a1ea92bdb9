package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
	"upgrader/internal/text"
)

// callRecord is the heartbeat of an API call. For a call that must not run
// twice it is written with Sending set before the request leaves the worker:
// a later attempt of the same try that finds it knows the call may have
// been made, when and by which attempt, even if the worker died without a
// word. The SDK sends a try's first heartbeat at once (later ones are
// batched), and without a check the record is that first heartbeat; with a
// check, the check decides anyway.
type callRecord struct {
	Sending bool      `json:"sending,omitempty"`
	Call    string    `json:"call"` // "POST http://…", no user part
	At      time.Time `json:"at"`
	Try     string    `json:"try,omitempty"` // the operator's try (the activity ID's #n)
	Attempt int32     `json:"attempt,omitempty"`
	Note    string    `json:"note,omitempty"`
}

// attempt is where this try stands: the step (the activity ID without its
// "#try"), the operator's try and Temporal's attempt.
type attempt struct {
	step, try string
	n         int32
}

func currentAttempt(ctx context.Context) attempt {
	if !activity.IsActivity(ctx) {
		return attempt{n: 1}
	}
	info := activity.GetInfo(ctx)
	a := attempt{step: info.ActivityID, n: info.Attempt}
	if i := strings.LastIndex(a.step, "#"); i > 0 {
		a.step, a.try = a.step[:i], a.step[i+1:]
	} else if _, err := strconv.Atoi(a.step); err == nil {
		a.step = "" // an ID the SDK made up names no step
	}
	return a
}

// by says which try made a call: "try 2, attempt 1".
func (r callRecord) by() string {
	if r.Try != "" {
		return fmt.Sprintf("try %s, attempt %d", r.Try, r.Attempt)
	}
	return fmt.Sprintf("attempt %d", r.Attempt)
}

// callOnce sends a call that must not run twice. Before sending it asks the
// step's check, if any; without one, a record left by an earlier attempt
// (its worker or its answer lost) stops the step for a person. After
// sending, a lost answer or a 5xx is retried only when a check can tell
// the next attempt whether the call took effect.
func (h *HTTP) callOnce(ctx context.Context, pc *preparedCall) (HTTPCallResult, error) {
	at := currentAttempt(ctx)
	var prior callRecord
	sentBefore := priorProgress(ctx, &prior) && prior.Sending
	var beat Progress
	if pc.check != nil {
		rec := callRecord{Call: pc.name, Note: "checking " + pc.check.String()}
		if sentBefore {
			rec = prior
			rec.Note = "checking " + pc.check.String() + " after " + prior.by()
		}
		beat.Set(rec)
		var earlier *callRecord
		if sentBefore {
			earlier = &prior
		}
		res, done, err := h.runCheck(ctx, pc, &beat, earlier)
		if err != nil || done {
			return res, err
		}
	} else if sentBefore {
		return HTTPCallResult{}, h.maybeMade(pc, at.step, prior, "its answer or its worker was lost")
	}

	rec := callRecord{Sending: true, Call: pc.name, At: time.Now().UTC(), Try: at.try, Attempt: at.n}
	beat.Set(rec)
	var ans answer
	var connected bool
	var g *redirectGuard
	var sendErr error
	_ = whileHeartbeating(ctx, &beat, func(ctx context.Context) error {
		ans, connected, g, sendErr = h.send(ctx, pc, pc.method, pc.url, pc.body, true)
		return nil
	})
	if sendErr != nil {
		if !connected {
			// Nothing left the worker: the next attempt may send.
			rec.Sending, rec.Note = false, "not sent: "+h.scrub(sendErr.Error())
			recordCall(ctx, rec)
			return HTTPCallResult{}, h.sendError(pc, fmt.Errorf("not sent, no connection: %w", sendErr))
		}
		if errors.Is(sendErr, errSecretBodyRedirect) {
			return HTTPCallResult{}, h.sendError(pc, sendErr)
		}
		why := "no answer: " + sendErr.Error()
		if pc.check != nil {
			return HTTPCallResult{}, temporal.NewApplicationError(h.scrub(fmt.Sprintf(
				"%s: %s; the next attempt asks %s before sending again", pc.name, why, pc.check)), ErrHTTPStatus)
		}
		return HTTPCallResult{}, h.maybeMade(pc, at.step, rec, why)
	}
	note := g.note()
	switch {
	case ans.status == http.StatusTooManyRequests:
		// Refused before any work: the next attempt may send.
		rec.Sending, rec.Note = false, "not made: answered 429"
		recordCall(ctx, rec)
	case statusRetryable(ans.status) && pc.check == nil:
		return HTTPCallResult{Status: ans.status, Excerpt: h.excerpt(ans.body, 500)},
			h.maybeMade(pc, at.step, rec, fmt.Sprintf("answered %d%s: %s", ans.status, note, h.excerpt(ans.body, 200)))
	}
	return h.judgeAnswer(pc.in, pc.name, note, ans)
}

// recordCall sends a changed record with the next heartbeat (the SDK sends
// a failed try's last details before its failure).
func recordCall(ctx context.Context, rec callRecord) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, rec)
	}
}

// maybeMade is the step's failure when the call may have been made and
// nothing can tell: a person looks, then retries (which sends it again) or
// skips. It is not retryable, so Temporal never sends the call again.
func (h *HTTP) maybeMade(pc *preparedCall, step string, rec callRecord, why string) error {
	check := pc.in.CheckByHand
	if check == "" {
		check = "on the service whether it took effect"
	}
	prefix := ""
	if step != "" {
		prefix = step + ": "
	}
	msg := fmt.Sprintf("%s%s: the call may have been made at %s UTC by %s (%s); check %s, then retry (sends it again) or skip",
		prefix, pc.name, rec.At.UTC().Format("15:04:05"), rec.by(), why, check)
	return temporal.NewNonRetryableApplicationError(h.scrub(msg), contract.ErrNotRepeatable, nil)
}

// runCheck asks the step's check whether the call has taken effect. done
// with a result: it has, and nothing is to be sent. An error: the check
// could not tell (its request failed, or its answer lacks what it looks
// for); a failed request is worth another try, an answer that cannot tell
// goes to a person.
func (h *HTTP) runCheck(ctx context.Context, pc *preparedCall, beat *Progress, earlier *callRecord) (HTTPCallResult, bool, error) {
	what := "the check GET " + pc.check.String()
	var ans answer
	var g *redirectGuard
	var sendErr error
	_ = whileHeartbeating(ctx, beat, func(ctx context.Context) error {
		ans, _, g, sendErr = h.send(ctx, pc, http.MethodGet, pc.check, nil, false)
		return nil
	})
	if sendErr != nil {
		return HTTPCallResult{}, false, temporal.NewApplicationError(h.scrub(fmt.Sprintf("%s before %s: %v", what, pc.name, sendErr)), ErrHTTPStatus)
	}
	res := HTTPCallResult{Status: ans.status, Excerpt: h.excerpt(ans.body, 500)}
	cannotTell := func(why string) error {
		sent, typ := "nothing was sent", ErrHTTPStatus
		if earlier != nil {
			typ = contract.ErrNotRepeatable
			sent = fmt.Sprintf("this attempt sent nothing, but the call may have been made at %s UTC by %s",
				earlier.At.UTC().Format("15:04:05"), earlier.by())
		}
		return temporal.NewNonRetryableApplicationError(h.scrub(fmt.Sprintf(
			"%s%s cannot tell whether %s has taken effect: %s; %s. Fix the step's check, or check %s by hand, then retry or skip",
			what, g.note(), pc.name, why, sent, orDefault(pc.in.CheckByHand, "on the service"))), typ, nil, res)
	}
	if ans.status < 200 || ans.status > 299 {
		if statusRetryable(ans.status) {
			return res, false, temporal.NewApplicationError(h.scrub(fmt.Sprintf("%s before %s answered %d%s: %s",
				what, pc.name, ans.status, g.note(), res.Excerpt)), ErrHTTPStatus, res)
		}
		return res, false, cannotTell(fmt.Sprintf("answered %d: %s", ans.status, res.Excerpt))
	}
	if failure, failed := vendorFailure(ans.body); failed {
		return res, false, cannotTell("the service reports a failure: " + failure)
	}
	var doc any
	if err := json.Unmarshal(ans.body, &doc); err != nil {
		return res, false, cannotTell("the answer is not JSON: " + res.Excerpt)
	}
	done := true
	for _, p := range sortedPaths(pc.in.Check.Done) {
		m, present := jsonMatch(doc, strings.Split(p, "."), pc.in.Check.Done[p])
		if !present {
			return res, false, cannotTell(fmt.Sprintf("the answer has no %s: %s", p, text.Truncate(res.Excerpt, 200)))
		}
		done = done && m
	}
	if !done {
		return res, false, nil
	}
	res.AlreadyDone = true
	res.Summary = fmt.Sprintf("%s not sent: %s shows it done already", pc.name, what)
	return res, true, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
