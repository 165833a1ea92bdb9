package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"upgrader/internal/contract"
	"upgrader/internal/text"
)

// HTTP calls and polls HTTP endpoints: health checks (`/actuator/health`
// must say UP), HTML titles, and vendor APIs.
type HTTP struct {
	Client  *http.Client
	Secrets Secrets
	// TrustedHosts are hosts besides a call's SecretHosts that secrets may
	// go to (the worker config's trustedHosts).
	TrustedHosts []string
	// PollInterval is the default pause between two probes of a wait.
	PollInterval time.Duration
}

// WaitHTTPInput says what to poll and what counts as ready.
type WaitHTTPInput struct {
	URL string `json:"url"`
	// JSONField and Equals: the body is JSON and the field at this dotted
	// path has this value (`status` = `UP`, `instance.0.status` = `UP`). Both empty: only the status code counts.
	JSONField string `json:"jsonField,omitempty"`
	Equals    string `json:"equals,omitempty"`
	// BodyContains: the body contains this text (`<title>Choerodon`).
	BodyContains string `json:"bodyContains,omitempty"`
	// Element: the body is JSON and holds an element with these fields
	// (a registry's instance of one app, UP, at one version).
	Element *JSONElement `json:"element,omitempty"`
	// Interval between probes; zero uses the activity's default.
	Interval contract.Duration `json:"interval,omitempty"`
}

// WaitHTTPResult reports how the wait ended.
type WaitHTTPResult struct {
	contract.Outcome
	Probes int `json:"probes"`
}

// WaitUntil heartbeats from the shared ticker (pollUntil) while it probes.
var _ = contract.Declare((*HTTP).WaitUntil, contract.Options{Heartbeat: waitHeartbeat})

// WaitUntil probes the URL until it answers as expected, heartbeating the
// last observation. It gives up shortly before the activity's deadline with
// the last response in the error, so the operator sees why.
func (h *HTTP) WaitUntil(ctx context.Context, in WaitHTTPInput) (WaitHTTPResult, error) {
	if in.URL == "" {
		return WaitHTTPResult{}, invalid("wait: no URL to probe")
	}
	if _, err := checkURL("wait", in.URL); err != nil {
		return WaitHTTPResult{}, err
	}
	interval := in.Interval.D()
	if interval <= 0 {
		interval = h.PollInterval
	}
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	return pollUntil(ctx, in.URL, "ready", interval, func() (bool, string) { return h.probe(ctx, in) })
}

func (h *HTTP) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// probe makes one request and says whether it met the expectation, with a
// short description of what it saw.
func (h *HTTP) probe(ctx context.Context, in WaitHTTPInput) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URL, nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return judge(resp.StatusCode, body, in)
}

// judge says whether an answer meets a wait's expectation, with a short
// description of what it saw.
func judge(status int, body []byte, in WaitHTTPInput) (bool, string) {
	short := text.Truncate(strings.TrimSpace(string(body)), 200)
	obs := fmt.Sprintf("HTTP %d %s", status, short)
	if status < 200 || status > 299 {
		return false, obs
	}
	if in.BodyContains != "" && !strings.Contains(string(body), in.BodyContains) {
		return false, obs
	}
	if in.JSONField != "" {
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			return false, obs + " (not JSON)"
		}
		if v, ok := jsonPath(doc, in.JSONField); !ok || v != in.Equals {
			return false, obs
		}
	}
	if in.Element != nil {
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			return false, obs + " (not JSON)"
		}
		if !in.Element.In(doc) {
			return false, obs + " (no " + in.Element.String() + ")"
		}
	}
	return true, obs
}
