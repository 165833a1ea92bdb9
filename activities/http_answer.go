package activities

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"upgrader/internal/text"

	"go.temporal.io/sdk/temporal"
)

// answer is what a server said: its status and up to 1 MiB of its body.
type answer struct {
	status int
	body   []byte
}

// judgeAnswer says whether an API call's answer is a success. A 5xx or a
// 429 is worth another try (retryable is true); a 4xx, a failure the
// service reports inside a 2xx body, or an answer lacking an expected field
// goes to the operator. what names the call in the error ("POST http://…");
// note is added to it (a redirect to another host).
func (h *HTTP) judgeAnswer(in HTTPCallInput, what, note string, a answer) (HTTPCallResult, error) {
	res := HTTPCallResult{Status: a.status, Excerpt: h.excerpt(a.body, 500)}
	ok := a.status >= 200 && a.status <= 299
	if len(in.ExpectStatus) > 0 {
		ok = slices.Contains(in.ExpectStatus, a.status)
	}
	if !ok {
		msg := fmt.Sprintf("%s answered %d%s: %s", what, a.status, note, res.Excerpt)
		if statusRetryable(a.status) {
			return res, temporal.NewApplicationError(msg, ErrHTTPStatus, res)
		}
		return res, temporal.NewNonRetryableApplicationError(msg, ErrHTTPStatus, nil, res)
	}
	if failure, failed := vendorFailure(a.body); failed {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s answered %d%s but the service reports a failure: %s",
			what, a.status, note, h.scrub(failure)), ErrHTTPStatus, nil, res)
	}
	if len(in.ExpectJSON) > 0 {
		var doc any
		if err := json.Unmarshal(a.body, &doc); err != nil {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s answered %d%s with no JSON: %s",
				what, a.status, note, res.Excerpt), ErrHTTPStatus, nil, res)
		}
		for _, p := range sortedPaths(in.ExpectJSON) {
			got, found := jsonPath(doc, p)
			if !found || got != in.ExpectJSON[p] {
				return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s%s: %s is %q, expected %q; answer: %s",
					what, note, p, h.scrub(got), in.ExpectJSON[p], res.Excerpt), ErrHTTPStatus, nil, res)
			}
		}
	}
	res.Summary = fmt.Sprintf("%s → %d%s", what, a.status, note)
	return res, nil
}

// statusRetryable says whether an answer's status is worth another try:
// the server or a proxy in front of it is overloaded or down.
func statusRetryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// vendorFailure reads the failure a vendor API reports inside a successful
// HTTP answer: Choerodon's services answer HTTP 200 with
// {"failed": true, "code": "error.clientName.exist", "message": "…"} when a
// call fails, so only the service's own field tells success. It returns
// "code: message" when the body says failed.
func vendorFailure(body []byte) (string, bool) {
	var env struct {
		Failed  *bool           `json:"failed"`
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &env) != nil || env.Failed == nil || !*env.Failed {
		return "", false
	}
	var parts []string
	if code := strings.Trim(string(env.Code), `"`); code != "" && code != "null" {
		parts = append(parts, "code "+code)
	}
	if env.Message != "" {
		parts = append(parts, text.Truncate(env.Message, 300))
	}
	if len(parts) == 0 {
		return `{"failed": true}`, true
	}
	return strings.Join(parts, ": "), true
}

func sortedPaths(m map[string]string) []string {
	paths := make([]string, 0, len(m))
	for p := range m {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// jsonPath reads a dotted path (a.b.0.c) from a decoded JSON document and
// renders the value as text (numbers and booleans as JSON writes them). It
// is jsonWalk's first value: a `*` segment reads a list's first element
// that has the rest of the path.
func jsonPath(doc any, path string) (got string, found bool) {
	jsonWalk(doc, strings.Split(path, "."), func(v any) bool {
		got, found = jsonText(v), true
		return true
	})
	return got, found
}

// jsonMatch says whether the value at a dotted path equals want, where a
// `*` segment matches any element of a list ("content.*.name"). present is
// false when the document lacks the path's shape (a field on the way is
// missing): then the answer says nothing either way. An existing list with
// no matching element is a clear no.
func jsonMatch(doc any, parts []string, want string) (matched, present bool) {
	present = jsonWalk(doc, parts, func(v any) bool {
		matched = jsonText(v) == want
		return matched
	})
	return matched, present
}

// jsonWalk calls visit with each value at a dotted path, a `*` segment
// fanning out over every element of a list, until visit returns true. It
// returns whether the document has the path's shape: false when a field on
// the way is missing or a segment does not fit (an index into an object);
// an index past a list's end or an empty list under `*` is the shape, with
// nothing in it. The one walker of the grammar: jsonPath, jsonMatch and
// JSONElement read through it.
func jsonWalk(doc any, parts []string, visit func(any) bool) (present bool) {
	present, _ = walkJSON(doc, parts, visit)
	return present
}

func walkJSON(doc any, parts []string, visit func(any) bool) (present, stop bool) {
	if len(parts) == 0 {
		return true, visit(doc)
	}
	switch v := doc.(type) {
	case map[string]any:
		next, ok := v[parts[0]]
		if !ok {
			return false, false
		}
		return walkJSON(next, parts[1:], visit)
	case []any:
		if parts[0] == "*" {
			for _, e := range v {
				if _, stop := walkJSON(e, parts[1:], visit); stop {
					return true, true
				}
			}
			return true, false
		}
		var i int
		if _, err := fmt.Sscanf(parts[0], "%d", &i); err != nil || i < 0 {
			return false, false
		}
		if i >= len(v) {
			return true, false
		}
		return walkJSON(v[i], parts[1:], visit)
	default:
		return false, false
	}
}

// JSONElement is an element of a JSON answer found by its fields: Path
// leads to it, a `*` segment standing for every element of a list
// ("applications.application.*.instance.*"), and Where gives dotted paths
// within the element and the values they must have (all of them).
type JSONElement struct {
	Path  string            `json:"path"`
	Where map[string]string `json:"where"`
}

// In says whether doc holds such an element.
func (e JSONElement) In(doc any) bool {
	for _, el := range jsonElements(doc, strings.Split(e.Path, ".")) {
		all := true
		for k, want := range e.Where {
			if got, ok := jsonPath(el, k); !ok || got != want {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// String says what is looked for, in a stable order.
func (e JSONElement) String() string {
	keys := make([]string, 0, len(e.Where))
	for k := range e.Where {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(e.Path + " with")
	for _, k := range keys {
		b.WriteString(" " + k + "=" + e.Where[k])
	}
	return b.String()
}

// jsonElements returns the values at a dotted path whose `*` segments fan
// out over lists.
func jsonElements(doc any, parts []string) []any {
	var out []any
	jsonWalk(doc, parts, func(v any) bool {
		out = append(out, v)
		return false
	})
	return out
}

// jsonText renders a decoded JSON value as text: strings as they are,
// anything else as JSON writes it.
func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "null"
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// excerpt is a body as history may keep it: scrubbed whole first (so a cut
// never leaves half a secret behind), whitespace folded, cut at a rune.
func (h *HTTP) excerpt(b []byte, n int) string {
	return text.Truncate(strings.Join(strings.Fields(h.scrub(string(b))), " "), n)
}
