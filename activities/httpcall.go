package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"go.temporal.io/sdk/temporal"

	"upgrader/internal/contract"
)

// ErrHTTPStatus is an answer with a status the step did not expect.
const ErrHTTPStatus = "HTTPStatus"

// HTTPCallInput is one API call: Choerodon's swagger calls, WeCube's system
// variable, BlueKing CMDB's migrate endpoint.
type HTTPCallInput struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// SecretHeaders maps header names to secret names whose value is the
	// whole header value (a bearer token, an API key).
	SecretHeaders map[string]string `json:"secretHeaders,omitempty"`
	// BasicUser and BasicPasswordRef add HTTP basic authentication.
	BasicUser        string `json:"basicUser,omitempty"`
	BasicPasswordRef string `json:"basicPasswordRef,omitempty"`
	// Body is sent as is; JSON bodies get a JSON content type. With
	// BodyTemplate, it is first rendered on the worker like an upload's
	// template: {{ secret "name" | json }} puts a secret in as a JSON string.
	Body         string `json:"body,omitempty"`
	BodyTemplate bool   `json:"bodyTemplate,omitempty"`
	// ExpectStatus lists the statuses that mean success; empty means 2xx.
	ExpectStatus []int `json:"expectStatus,omitempty"`
	// ExpectJSON maps dotted field paths of the JSON answer to the value
	// they must have ("result": "true", "data.status": "UP").
	ExpectJSON map[string]string `json:"expectJSON,omitempty"`
}

// HTTPCallResult keeps the status and a short, scrubbed excerpt.
type HTTPCallResult struct {
	contract.Outcome
	Status  int    `json:"status"`
	Excerpt string `json:"excerpt"`
}

// Call makes the request and checks the answer. A 4xx, or an answer that
// lacks an expected field, goes to the operator; a 5xx or a network error
// is retried.
func (h *HTTP) Call(ctx context.Context, in HTTPCallInput) (HTTPCallResult, error) {
	method := strings.ToUpper(in.Method)
	if method == "" {
		method = http.MethodGet
	}
	if !strings.HasPrefix(in.URL, "http://") && !strings.HasPrefix(in.URL, "https://") {
		return HTTPCallResult{}, invalid("URL %q is not http(s)", in.URL)
	}
	reqBody := []byte(in.Body)
	if in.BodyTemplate {
		var err error
		if reqBody, err = renderWithSecrets("the body of "+method+" "+in.URL, in.Body, nil, h.Secrets); err != nil {
			return HTTPCallResult{}, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, in.URL, bytes.NewReader(reqBody))
	if err != nil {
		return HTTPCallResult{}, invalid("request %s %s: %v", method, in.URL, err)
	}
	if len(reqBody) > 0 && json.Valid(reqBody) {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range in.Headers {
		req.Header.Set(k, v)
	}
	for k, ref := range in.SecretHeaders {
		v, err := resolveSecret(h.Secrets, ref)
		if err != nil {
			return HTTPCallResult{}, err
		}
		req.Header.Set(k, v)
	}
	if in.BasicUser != "" {
		pw, err := resolveSecret(h.Secrets, in.BasicPasswordRef)
		if err != nil {
			return HTTPCallResult{}, err
		}
		req.SetBasicAuth(in.BasicUser, pw)
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return HTTPCallResult{}, fmt.Errorf("%s %s: %w", method, in.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	res := HTTPCallResult{Status: resp.StatusCode, Excerpt: h.scrub(excerpt(body, 500))}
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if len(in.ExpectStatus) > 0 {
		ok = containsInt(in.ExpectStatus, resp.StatusCode)
	}
	if !ok {
		msg := fmt.Sprintf("%s %s answered %d: %s", method, in.URL, resp.StatusCode, res.Excerpt)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return res, temporal.NewApplicationError(msg, ErrHTTPStatus, res)
		}
		return res, temporal.NewNonRetryableApplicationError(msg, ErrHTTPStatus, nil, res)
	}
	if len(in.ExpectJSON) > 0 {
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %s answered %d with no JSON: %s", method, in.URL, resp.StatusCode, res.Excerpt), ErrHTTPStatus, nil, res)
		}
		paths := make([]string, 0, len(in.ExpectJSON))
		for p := range in.ExpectJSON {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			got, found := jsonPath(doc, p)
			if !found || got != in.ExpectJSON[p] {
				return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"%s %s: %s is %q, expected %q; answer: %s", method, in.URL, p, got, in.ExpectJSON[p], res.Excerpt), ErrHTTPStatus, nil, res)
			}
		}
	}
	res.Summary = fmt.Sprintf("%s %s → %d", method, in.URL, resp.StatusCode)
	return res, nil
}

func (h *HTTP) scrub(s string) string {
	if sc, ok := h.Secrets.(Scrubber); ok {
		return sc.Scrub(s)
	}
	return s
}

// jsonPath reads a dotted path (a.b.0.c) from a decoded JSON document and
// renders the value as text (numbers and booleans as JSON writes them).
func jsonPath(doc any, path string) (string, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return "", false
			}
			cur = next
		case []any:
			var i int
			if _, err := fmt.Sscanf(part, "%d", &i); err != nil || i < 0 || i >= len(v) {
				return "", false
			}
			cur = v[i]
		default:
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return v, true
	case nil:
		return "null", true
	default:
		b, _ := json.Marshal(v)
		return string(b), true
	}
}

func excerpt(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
