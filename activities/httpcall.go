package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// ErrHTTPStatus is an answer with a status the step did not expect.
const ErrHTTPStatus = "HTTPStatus"

// callHeartbeat is Call's heartbeat timeout: the shared ticker beats every
// third of it while a request blocks, so a worker lost in the middle of a
// slow API call (Choerodon's devops data repair runs for minutes) is noticed
// within 15 s, not at the end of the try.
const callHeartbeat = 15 * time.Second

// Call may take minutes (a data repair answers when it is done); the
// heartbeat, not this limit, notices a lost worker.
var _ = contract.Declare((*HTTP).Call, contract.Options{Timeout: 5 * time.Minute, Heartbeat: callHeartbeat})

// HTTPCallInput is one API call: Choerodon's swagger calls, WeCube's system
// variable, BlueKing CMDB's migrate endpoint.
type HTTPCallInput struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// SecretHeaders maps header names to secret names whose value is the
	// whole header value (a bearer token, an API key). They are sent only
	// to the URL's own scheme, host and port: a redirect elsewhere goes
	// without them.
	SecretHeaders map[string]string `json:"secretHeaders,omitempty"`
	// BasicUser and BasicPasswordRef add HTTP basic authentication.
	BasicUser        string `json:"basicUser,omitempty"`
	BasicPasswordRef string `json:"basicPasswordRef,omitempty"`
	// Body is sent as is; JSON bodies get a JSON content type. With
	// BodyTemplate, it is first rendered on the worker like an upload's
	// template: {{ secret "name" | json }} puts a secret in as a JSON string.
	Body         string `json:"body,omitempty"`
	BodyTemplate bool   `json:"bodyTemplate,omitempty"`
	// BodyVars are the template's data ({{ .name | json }}): config values
	// go here, never into the template text, so a value is never code.
	BodyVars map[string]string `json:"bodyVars,omitempty"`
	// ExpectStatus lists the statuses that mean success; empty means 2xx.
	ExpectStatus []int `json:"expectStatus,omitempty"`
	// ExpectJSON maps dotted field paths of the JSON answer to the value
	// they must have ("result": "true", "data.status": "UP"). Whatever it
	// says, an answer {"failed": true, …} (how Choerodon's services report
	// a failure with HTTP 200) is a failure.
	ExpectJSON map[string]string `json:"expectJSON,omitempty"`

	// AnswerTimeout bounds the wait for a repeatable call's answer (the
	// worker's HTTP client waits 10 s by default). A service that works
	// synchronously before it answers (wiki-service rewriting every space's
	// home page) needs longer; the step's timeout must leave room for it. A
	// call that is not repeatable already waits until the try's deadline.
	AnswerTimeout contract.Duration `json:"answerTimeout,omitempty"`

	// Repeatable says whether sending the call twice is harmless. Nil
	// follows the method: GET, HEAD, OPTIONS, PUT and DELETE are, POST and
	// PATCH are not. A call that is not repeatable is sent at most once per
	// try of the step: a lost answer, a 5xx or a lost worker never makes
	// Temporal send it again; the step runs Check first or goes to a person.
	// Choerodon's devops data repair is a GET that must not run twice:
	// Repeatable: Repeat(false).
	Repeatable *bool `json:"repeatable,omitempty"`
	// Check is a read-only call that tells whether this call has already
	// taken effect (list the organization's OAuth clients before creating
	// one). A call that is not repeatable runs it before sending: when it
	// says done, nothing is sent and the step succeeds.
	Check *HTTPCheck `json:"check,omitempty"`
	// CheckByHand completes "check …" in the message a person gets when the
	// worker cannot tell whether an earlier try's call took effect
	// ("devops-service's devops_check_log for a 0.21.0 repair"). Empty:
	// "on the service whether it took effect".
	CheckByHand string `json:"checkByHand,omitempty"`
	// SecretHosts binds the call's secrets (headers, basic auth, a body
	// rendered with secrets) to the platform's own host names; the worker
	// adds its trustedHosts. Empty: not bound (lab and demo calls).
	SecretHosts []string `json:"secretHosts,omitempty"`
	// SecretHostsKey is the config key the URL comes from, for the message.
	SecretHostsKey string `json:"secretHostsKey,omitempty"`
}

// HTTPCheck is a GET to the same service (same scheme, host and port as the
// call, with the call's headers) whose JSON answer says whether the call has
// already taken effect.
type HTTPCheck struct {
	// URL, absolute or relative to the call's URL
	// ("/iam/v1/organizations/1/clients?name=choerodon").
	URL string `json:"url"`
	// Done maps dotted JSON paths of the answer to the values that mean
	// done; each must hold. A `*` segment matches any element of a list:
	// "content.*.name": "choerodon". An answer that lacks a path's shape (no
	// `content` list at all) or reports a failure cannot tell, and the step
	// goes to a person instead of sending.
	Done map[string]string `json:"done"`
}

// Repeat is a value for HTTPCallInput.Repeatable.
func Repeat(ok bool) *bool { return &ok }

// HTTPCallResult keeps the status and a short, scrubbed excerpt.
type HTTPCallResult struct {
	contract.Outcome
	Status  int    `json:"status"`
	Excerpt string `json:"excerpt"`
	// AlreadyDone: the check showed the call had taken effect (an earlier
	// try, or a person); this try sent nothing. Status and Excerpt are the
	// check's.
	AlreadyDone bool `json:"alreadyDone,omitempty"`
}

// Call makes the request and checks the answer. A repeatable call is
// retried on a 5xx or a network error; a 4xx, or an answer that lacks an
// expected field or reports a failure, goes to the operator. A call that is
// not repeatable is never sent twice by retries: see Repeatable.
func (h *HTTP) Call(ctx context.Context, in HTTPCallInput) (HTTPCallResult, error) {
	pc, err := h.prepare(in)
	if err != nil {
		return HTTPCallResult{}, err
	}
	if pc.repeatable() {
		return h.callRepeatable(ctx, pc)
	}
	return h.callOnce(ctx, pc)
}

// preparedCall is a call with its secrets resolved, ready to be sent.
type preparedCall struct {
	in     HTTPCallInput
	method string
	url    *url.URL
	check  *url.URL
	// name is how history and errors name the call: "POST http://…",
	// without a user part.
	name          string
	body          []byte
	header        http.Header
	secretHeaders []string
	secretBody    bool
}

func (h *HTTP) prepare(in HTTPCallInput) (*preparedCall, error) {
	method := strings.ToUpper(in.Method)
	if method == "" {
		method = http.MethodGet
	}
	u, err := checkURL("call", in.URL)
	if err != nil {
		return nil, err
	}
	pc := &preparedCall{in: in, method: method, url: u, name: method + " " + u.String(), header: http.Header{}}
	usesSecrets := len(in.SecretHeaders) > 0 || in.BasicUser != "" || in.BodyTemplate
	if usesSecrets && len(in.SecretHosts) > 0 && !h.hostAllowed(u, in.SecretHosts) {
		key := in.SecretHostsKey
		if key == "" {
			key = "the URL"
		}
		return nil, h.refuseForeignHost(pc.name, key, u, in.SecretHosts)
	}
	if in.Check != nil {
		ref, err := url.Parse(in.Check.URL)
		if err != nil || in.Check.URL == "" {
			return nil, invalid("%s: the check URL %q is not a URL", pc.name, redactURL(in.Check.URL))
		}
		c, err := checkURL("the check of "+pc.name, u.ResolveReference(ref).String())
		if err != nil {
			return nil, err
		}
		if origin(c) != origin(u) {
			return nil, invalid("%s: the check %s is on another host than the call (%s); a check asks the same service, with the call's credentials",
				pc.name, c, origin(u))
		}
		if len(in.Check.Done) == 0 {
			return nil, invalid("%s: the check %s says nothing about what means done (check.done)", pc.name, c)
		}
		pc.check = c
	}
	pc.body = []byte(in.Body)
	if in.BodyTemplate {
		if pc.body, err = renderWithSecrets("the body of "+pc.name, in.Body, in.BodyVars, h.Secrets, httpUse(u.String())); err != nil {
			return nil, err
		}
		pc.secretBody = true
	}
	if len(pc.body) > 0 && json.Valid(pc.body) {
		pc.header.Set("Content-Type", "application/json")
	}
	for k, v := range in.Headers {
		pc.header.Set(k, v)
	}
	for k, ref := range in.SecretHeaders {
		v, err := resolveSecretFor(h.Secrets, ref, httpUse(u.String()))
		if err != nil {
			return nil, err
		}
		pc.header.Set(k, v)
		pc.secretHeaders = append(pc.secretHeaders, k)
	}
	if in.BasicUser != "" {
		pw, err := resolveSecretFor(h.Secrets, in.BasicPasswordRef, httpUse(u.String()))
		if err != nil {
			return nil, err
		}
		r := &http.Request{Header: pc.header}
		r.SetBasicAuth(in.BasicUser, pw)
		pc.secretHeaders = append(pc.secretHeaders, "Authorization")
	}
	return pc, nil
}

// repeatable applies the step's word, else the method's nature.
func (pc *preparedCall) repeatable() bool {
	if pc.in.Repeatable != nil {
		return *pc.in.Repeatable
	}
	switch pc.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// callRepeatable sends a call that may be sent again: a network error or a
// 5xx is retried by Temporal.
func (h *HTTP) callRepeatable(ctx context.Context, pc *preparedCall) (HTTPCallResult, error) {
	var beat Progress
	beat.Set(callRecord{Call: pc.name, At: time.Now().UTC(), Note: "repeatable"})
	var ans answer
	var g *redirectGuard
	var sendErr error
	_ = whileHeartbeating(ctx, &beat, func(ctx context.Context) error {
		ans, _, g, sendErr = h.send(ctx, pc, pc.method, pc.url, pc.body, false)
		return nil
	})
	if sendErr != nil {
		return HTTPCallResult{}, h.sendError(pc, sendErr)
	}
	return h.judgeAnswer(pc.in, pc.name, g.note(), ans)
}

// sendError turns a request that got no answer into the step's error: a
// refused redirect is for the operator, anything else is worth a retry.
func (h *HTTP) sendError(pc *preparedCall, err error) error {
	msg := h.scrub(fmt.Sprintf("%s: %v", pc.name, err))
	if errors.Is(err, errSecretBodyRedirect) {
		return temporal.NewNonRetryableApplicationError(msg, contract.ErrInvalidInput, nil)
	}
	return temporal.NewApplicationError(msg, ErrHTTPStatus)
}

// send makes one request with the call's headers. connected reports whether
// a connection to the server was made: when it is false, nothing of the
// request left the worker. fresh uses a connection of its own, closed
// after: net/http silently sends a GET again when a reused keep-alive
// connection drops before the answer, which a call that must not run twice
// cannot allow. The client's own timeout is kept for checks and repeatable
// calls; a call that must not run twice is bounded by the try's deadline
// only, so a slow answer is waited for instead of turned into a "may have
// been made".
func (h *HTTP) send(ctx context.Context, pc *preparedCall, method string, u *url.URL, body []byte, fresh bool) (answer, bool, *redirectGuard, error) {
	g := newRedirectGuard(pc.secretHeaders, pc.secretBody)
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }})
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return answer{}, false, g, err
	}
	req.Header = pc.header.Clone()
	c := *h.client()
	c.CheckRedirect = g.check
	if pc.in.AnswerTimeout > 0 {
		c.Timeout = pc.in.AnswerTimeout.D()
	}
	if fresh {
		if _, ok := ctx.Deadline(); ok {
			c.Timeout = 0
		}
		var t *http.Transport
		switch base := c.Transport.(type) {
		case nil:
			t = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			t = base.Clone()
		}
		if t != nil {
			t.DisableKeepAlives = true
			defer t.CloseIdleConnections()
			c.Transport = t
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, connected.Load(), g, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, body: b}, true, g, nil
}

func (h *HTTP) scrub(s string) string {
	sc, _ := h.Secrets.(Scrubber)
	return scrubText(sc, s)
}
